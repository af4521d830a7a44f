"""`vla_export_dataset BAGS... --format lerobot --out DIR`: recorded episodes -> a fine-tuning dataset.

BAGS are episode bag folders (or folders of them, as recorder_node writes). Every bag is read and checked before
anything is written; a bag that is truncated or corrupt, holds no images, or comes from a robot with other joint
names stops the export with a message naming the bag and the problem (exit 2), and no output folder is left.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vla_ros.recording.bag import BagError, iter_episode_dirs, read_bag
from vla_ros.recording.episode import load_episode
from vla_ros.recording.lerobot import ExportError, export_lerobot


def expand_bags(paths: list[str]) -> list[Path]:
    """A bag folder stays itself; a folder of episode bags becomes its episodes (oldest first)."""
    bags: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir() and not (path / "metadata.yaml").exists() and not path.name.endswith(".partial"):
            found = list(iter_episode_dirs(path))
            if not found:
                raise BagError(f"{path}: neither a bag nor a folder of recorded episodes")
            bags.extend(found)
        else:
            bags.append(path)
    return bags


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="vla_export_dataset", description=__doc__.splitlines()[0])
    parser.add_argument("bags", nargs="+", help="episode bag folders, or folders holding them")
    parser.add_argument("--format", choices=["lerobot"], default="lerobot")
    parser.add_argument("--out", required=True, help="dataset folder to create (must not exist)")
    parser.add_argument("--joint-names", nargs="+", default=None,
                        help="the robot's joints in state order; bags whose joint states lack them are refused "
                             "(default: the recorded node's joint_names, else the first bag's joint order)")
    parser.add_argument("--robot-type", default="vla_ros", help="info.json robot_type")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        bags = expand_bags(args.bags)
        episodes = []
        joint_names = args.joint_names
        for bag in bags:
            contents = read_bag(bag)
            # Default: the recorded node's joint_names, the joints its commands are in (a robot's joint states
            # may carry more, e.g. the sim's gripper), so the actions label the state joint for joint.
            recorded = (contents.metadata.get("node_config") or {}).get("joint_names")
            episode = load_episode(contents, joint_names or (list(recorded) if recorded else None))
            joint_names = joint_names or episode.joint_names  # later bags must match the first one
            episodes.append(episode)
        out = export_lerobot(episodes, Path(args.out), robot_type=args.robot_type)
    except (BagError, ExportError) as error:
        print(f"vla_export_dataset: {error}", file=sys.stderr)
        return 2
    frames = sum(len(e.frame_stamps) for e in episodes)
    print(f"vla_export_dataset: {len(episodes)} episode(s), {frames} frames -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
