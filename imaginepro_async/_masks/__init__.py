"""Masks: ``Mask`` (read, combine, fit, preview), drawing shapes, codecs, image header sniffing.

Imports the foundation only (Pillow lazily, from the ``[masks]`` extra).
"""
