"""A griffe extension for the API reference: Sphinx roles in docstrings read as code.

Some docstrings cross-reference with reST roles (``:meth:`Mask.fitted```,
``:class:`~imaginepro_async.testing.Simulator```); Markdown would print them as written. Each
becomes a code span of the name (with ``~``, its last part, as Sphinx shows it).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:meth|class|func|mod|attr|exc|data|obj):`~?([^`]+)`")


def _name(match: re.Match[str]) -> str:
    text = match.group(0)
    target = match.group(1)
    return f"`{target.rsplit('.', 1)[-1] if '`~' in text else target}`"


class SphinxRoles(griffe.Extension):
    """Rewrites reST roles in every docstring griffe loads."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        """Called for each module, class, function and attribute."""
        if obj.docstring is not None:
            obj.docstring.value = _ROLE.sub(_name, obj.docstring.value)
