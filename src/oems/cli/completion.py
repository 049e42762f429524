"""`--print-completion SHELL` for `oems` and `clear-street`: shtab's script from the argparse tree,
with bash taught to complete names holding a colon (`v1:orders`)."""

from __future__ import annotations

import argparse
import re
from typing import Any

import shtab

# bash cuts words at ':' (COMP_WORDBREAKS), so `v1:or` arrives as `v1`, `:`, `or` and matches no
# command. The wrapper hands shtab's function the line split at blanks only, then drops from each
# candidate what bash keeps of the word before its last ':'.
BASH_COLON_WORDS = r"""
{wrapper}() {{
  local line="${{COMP_LINE:0:COMP_POINT}}"
  local -a words
  read -ra words <<< "$line"
  [[ -z "$line" || "$line" =~ [[:space:]]$ ]] && words+=("")
  local -a COMP_WORDS=("${{words[@]}}")
  local COMP_CWORD=$(( ${{#words[@]}} - 1 ))
  {function} "$@"
  local current="${{words[COMP_CWORD]}}"
  if [[ "$current" == *:* && "$COMP_WORDBREAKS" == *:* ]]; then
    local before="${{current%"${{current##*:}}"}}"
    COMPREPLY=("${{COMPREPLY[@]#"$before"}}")
  fi
}}
complete -o bashdefault -F {wrapper} {prog}
"""


# zsh's `_describe` reads `name:description`: a colon inside a name needs a backslash, doubled
# because the array is written unquoted.
_ZSH_COMMAND_ENTRY = re.compile(r"^(\s+)([^\s']+):'", re.MULTILINE)


def completion_script(parser: argparse.ArgumentParser, shell: str) -> str:
    """The completion script of `parser` for `shell`."""
    script = shtab.complete(parser, shell)
    if shell == "zsh":
        return _ZSH_COMMAND_ENTRY.sub(_escape_zsh_name, script)
    if shell != "bash":
        return script
    function = "_shtab_" + re.sub(r"\W", "_", parser.prog)
    return script + BASH_COLON_WORDS.format(
        wrapper=function + "_colon_words", function=function, prog=parser.prog
    )


def _escape_zsh_name(entry: re.Match[str]) -> str:
    indent, name = entry.group(1), entry.group(2)
    return indent + name.replace(":", "\\\\:") + ":'"


class _PrintCompletion(argparse.Action):
    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        print(completion_script(parser, str(values)))
        parser.exit(0)


def add_completion_flag(parser: argparse.ArgumentParser) -> None:
    """Add `--print-completion {bash,zsh,tcsh}` to the top-level parser."""
    parser.add_argument(
        "--print-completion",
        choices=("bash", "zsh", "tcsh"),
        action=_PrintCompletion,
        help='print a shell completion script: eval "$(%(prog)s --print-completion bash)"',
    )
