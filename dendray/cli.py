"""The `dendray` command: one entry point for operators."""

from __future__ import annotations

import argparse
import sys

from dendray import init_cmd, keys_cmd, protocol_cli, run_cmd, search_cmd


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dendray", description="the dendray Matrix homeserver")
    sub = parser.add_subparsers(dest="command", required=True)
    init_cmd.add_parser(sub)
    run_cmd.add_parser(sub)
    protocol_cli.add_parser(sub)
    search_cmd.add_parser(sub)
    keys_cmd.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "protocol":
        return protocol_cli.run(args)
    if args.command == "init":
        return init_cmd.run(args)
    if args.command == "run":
        return run_cmd.run(args)
    if args.command == "search":
        return search_cmd.run(args)
    if args.command == "keys":
        return keys_cmd.run(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
