"""`clear-street`: parse the command line, call the operation through the SDK, print the answer.

Exit status: 0 on success, 1 when the server answers an error or cannot be reached, 2 on a usage
error (nothing is sent then).
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import httpx
from clearstreet import APIConnectionError, APIStatusError, ClearStreet

from oems.cli.client.commands import Command, resources
from oems.cli.client.output import DEFAULT_PATH, parse_path, render, select
from oems.cli.client.parser import DEFAULT_BASE_URL, PROG, build_parser
from oems.cli.streams import write_out

OK, API_ERROR, USAGE_ERROR = 0, 1, 2


def main(argv: list[str] | None = None) -> int:
    """Run one `clear-street` command line; returns the exit status."""
    parser = build_parser(resources())
    args = parser.parse_args(argv)
    command: Command | None = getattr(args, "command", None)
    if command is None:
        # A resource without a method, or nothing at all: show where to go next.
        args.help_parser.print_help(sys.stderr)
        choice = f"a method of {args.resource}" if args.resource else "a resource"
        return _usage_error(f"choose {choice} from the list above")
    api_key = args.api_key or os.environ.get("CLEAR_STREET_API_KEY")
    if not api_key:
        return _usage_error(
            f"{command.title}: no API key: pass --api-key KEY or set CLEAR_STREET_API_KEY"
        )
    if args.format == "raw" and args.transform is not None:
        return _usage_error("--transform does not apply to --format raw (the envelope as sent)")
    base_url = args.base_url or os.environ.get("CLEAR_STREET_BASE_URL") or DEFAULT_BASE_URL
    params = {
        key.removeprefix("param:"): value
        for key, value in vars(args).items()
        if key.startswith("param:") and value is not None
    }
    # No automatic retries: a retried POST could place an order twice.
    client = ClearStreet(
        api_key=api_key,
        base_url=base_url,
        max_retries=0,
        http_client=_debug_client(api_key) if args.debug else None,
    )
    try:
        response = _call(client, command, params)
    except APIStatusError as exc:
        _print_error_envelope(exc.response, args.format)
        return API_ERROR
    except APIConnectionError as exc:
        cause = exc.__cause__ or exc
        print(
            f"{PROG}: cannot reach {base_url}: {cause}\n"
            "  Is the server running? Point at it with --base-url or CLEAR_STREET_BASE_URL.",
            file=sys.stderr,
        )
        return API_ERROR
    except ValueError as exc:  # the SDK's own check, e.g. an empty path parameter
        return _usage_error(f"{command.title}: {exc}")
    return _print_answer(response, args.format, args.transform)


def _call(client: ClearStreet, command: Command, params: dict[str, Any]) -> httpx.Response:
    resource: Any = client
    for part in command.sdk_path:
        resource = getattr(resource, part)
    method = getattr(resource.with_raw_response, command.sdk_method)
    response: httpx.Response = method(**params).http_response
    return response


def _print_answer(response: httpx.Response, fmt: str, path: tuple[Any, ...] | None) -> int:
    if fmt == "raw":
        write_out(sys.stdout, response.text)
        envelope = _json_or_none(response.text)
    else:
        envelope = response.json()
        write_out(sys.stdout, render(select(envelope, path or parse_path(DEFAULT_PATH)), fmt))
    error = envelope.get("error") if isinstance(envelope, dict) else None
    if error:
        # A partly rejected batch (207): the data above says which items; the summary goes here.
        write_out(sys.stderr, json.dumps({"error": error}, indent=2, ensure_ascii=False))
        return API_ERROR
    return OK


def _print_error_envelope(response: httpx.Response, fmt: str) -> None:
    envelope = _json_or_none(response.text)
    if fmt == "raw" or envelope is None:
        write_out(sys.stderr, response.text or f"HTTP {response.status_code}")
    else:
        write_out(sys.stderr, json.dumps(envelope, indent=2, ensure_ascii=False))


def _json_or_none(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _usage_error(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return USAGE_ERROR


def mask(secret: str) -> str:
    """A secret as debug output shows it: its last four characters only."""
    return "*" * 8 + secret[-4:] if len(secret) > 8 else "*" * 8


def _debug_client(api_key: str) -> httpx.Client:
    """An HTTP client that prints each request and response to stderr, the key masked."""

    def show_request(request: httpx.Request) -> None:
        lines = [f"> {request.method} {request.url}"]
        for name, value in request.headers.items():
            lines.append(f"> {name}: {value.replace(api_key, mask(api_key))}")
        body = request.read()
        if body:
            lines += [">", "> " + body.decode(errors="replace")]
        print("\n".join(lines), file=sys.stderr)

    def show_response(response: httpx.Response) -> None:
        response.read()
        lines = [f"< {response.status_code} {response.reason_phrase}"]
        lines += [f"< {name}: {value}" for name, value in response.headers.items()]
        if response.text:
            lines += ["<", "< " + response.text]
        print("\n".join(lines), file=sys.stderr)

    return httpx.Client(event_hooks={"request": [show_request], "response": [show_response]})


if __name__ == "__main__":
    sys.exit(main())
