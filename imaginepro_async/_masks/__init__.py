"""Masks: ``Mask`` (read, draw, combine, fit, preview) and ``load_mask``, with their pieces.

From the top down: ``load`` (``load_mask``), ``mask`` (``Mask``), ``draw`` (shapes) and ``pixels``
(decode, invert, combine, resize), ``content`` (checked contents, read from each input kind),
``codec`` (limits, base64, Pillow helpers), ``imageinfo`` (header sniffing). Each imports only
modules below it, and from the rest of the package only ``_errors`` (Pillow lazily, from the
``[masks]`` extra).
"""
