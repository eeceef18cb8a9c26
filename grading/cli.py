"""`python -m grading`: parse the command line and call the step it names; nothing else."""

import argparse
import sys

from grading import course


def release_command(args: argparse.Namespace) -> int:
    from grading import release

    pub = course.publication()
    if args.repository or args.branch:
        pub = course.Publication(args.repository or pub.repository, args.branch or pub.branch)
        course.save_publication(pub)
    for path in release.release(pub):
        print(path.relative_to(course.ROOT))
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m grading", description=__doc__)
    commands = top.add_subparsers(dest="command", required=True)

    rel = commands.add_parser("release", help="regenerate notebooks/ from solutions/")
    rel.add_argument("--repository", help="OWNER/NAME on GitHub that the Colab badges point at (after a fork)")
    rel.add_argument("--branch", help="the branch the Colab badges point at")
    rel.set_defaults(run=release_command)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
