"""The API families on the client, one module each (``client.flux``, ``client.video``, ...), over the client's core.

``midjourney.py`` holds the client's own methods; ``base.py`` the ``Resource`` they are built on.
"""
