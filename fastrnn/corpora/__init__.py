"""Corpora shipped with fastrnn (read them with :func:`fastrnn.data.load_text`).

``tinyshakespeare.txt.xz``: Karpathy's tiny Shakespeare (1,115,394 characters of
Shakespeare's plays; public domain), the default corpus of the demos and the explorer.
"""
