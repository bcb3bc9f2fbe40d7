"""Task recipes: data generators and end-to-end training functions behind the CLI.

Each task is one module (``fastrnn.tasks.language_modeling``, ``fastrnn.tasks.tagging``,
``fastrnn.tasks.memory``, ...); import the one you need.
"""
