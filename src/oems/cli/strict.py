"""An argparse parser that refuses what a typo makes: unknown or abbreviated flags, named, with
the nearest known flag suggested, before any complaint about missing required ones."""

from __future__ import annotations

import argparse
import difflib
from collections.abc import Sequence
from typing import Any, NoReturn


class StrictParser(argparse.ArgumentParser):
    """`ArgumentParser` without abbreviations; an unknown flag is a usage error naming it.

    Sub-parsers made with `add_subparsers().add_parser` are StrictParsers too.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)
        self._arguments: list[str] = []

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        """Parse as argparse does, but end with a usage error on any flag this parser lacks."""
        self._arguments = list(args) if args is not None else []
        parsed, extras = super().parse_known_args(args, namespace)
        unknown = [a for a in extras if a.startswith("-") and a != "-"]
        if unknown:
            self.error(self._unknown_message(unknown[0]))
        return parsed, extras

    def error(self, message: str) -> NoReturn:
        """Report a usage error (exit 2); an unknown flag wins over a missing required one."""
        if message.startswith("the following arguments are required"):
            for argument in self._arguments:
                if argument == "--":
                    break
                flag = argument.split("=", 1)[0]
                if flag.startswith("--") and flag not in self._option_string_actions:
                    message = self._unknown_message(flag)
                    break
        super().error(message)

    def _unknown_message(self, argument: str) -> str:
        flag = argument.split("=", 1)[0]
        known = [option for option in self._option_string_actions if option.startswith("--")]
        nearest = difflib.get_close_matches(flag, known, n=1, cutoff=0.6)
        if not nearest:
            nearest = [option for option in known if option.startswith(flag)][:1]
        hint = f" (did you mean {nearest[0]}?)" if nearest else ""
        return f"unknown option {flag}{hint}"
