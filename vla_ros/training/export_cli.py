"""`vla_export`: torch model -> ONNX (-> TensorRT engine where present) -> parity report -> model package.

    vla_export DRAFT.yaml --out models/my_model [--source-dir DIR] [--samples 16] [--tensorrt auto|on|off] [--fp16]
    vla_export --example act|rt2 --out models/act_example [--horizon 10 --joints 6 --seed 0]
    vla_export --example ar|flow|ar_300m|flow_300m --out /tmp/flow_300m   # multi-graph kinds, random weights

DRAFT.yaml is a vla.yaml whose sha256 values may be left out; weights.torch names the module class, its
constructor kwargs and the state_dict file (in --source-dir, default the draft's folder). The manifest is
written only when every backend passes parity. Exit status: 0 written, 2 parity failed, 1 any other error.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import yaml

from vla_ros.core.types import ActionSemantics
from vla_ros.model.errors import ModelPackageError
from vla_ros.training.export import FP16_THRESHOLDS, FP32_THRESHOLDS, ExportResult, ParityThresholds, export_package


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vla_export", description=__doc__.split("\n\n")[0])
    p.add_argument("draft", nargs="?", type=Path, help="draft vla.yaml (sha256 values may be absent)")
    p.add_argument("--example", choices=("act", "rt2", "ar", "flow", "ar_300m", "flow_300m"),
                   help="build a seeded example model instead of a draft (ar/flow: the multi-graph kinds, small; "
                        "*_300m: their ~300M-parameter configurations, random weights, for benchmarks)")
    p.add_argument("--out", type=Path, required=True, help="package directory to write")
    p.add_argument("--source-dir", type=Path, help="where the draft's state_dict/tokenizer live (default: its folder)")
    p.add_argument("--samples", type=int, default=16, help="random observations for the parity report")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tensorrt", choices=("auto", "on", "off"), default="auto",
                   help="also build + compare a TensorRT engine (auto: when TensorRT and a GPU are present)")
    p.add_argument("--fp16", action="store_true", help="TensorRT engine with FP16 kernels (looser thresholds)")
    p.add_argument("--min-cosine", type=float, help="override the parity cosine threshold")
    p.add_argument("--max-abs", type=float, help="override the parity max-abs threshold (robot units)")
    p.add_argument("--joints", type=int, default=6, help="--example: action/state dimension")
    p.add_argument("--horizon", type=int, default=10, help="--example: chunk length")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    return p


def _print_report(result: ExportResult) -> None:
    for name, why in result.skipped:
        print(f"  skipped {name}: {why}")
    for p in result.parity:
        verdict = "PASS" if p.passed else "FAIL"
        print(f"  {verdict} {p.backend}: n={p.n} max_abs={p.max_abs:.3g} (<= {p.thresholds.max_abs:g}) "
              f"cosine={p.cosine:.6f} (>= {p.thresholds.min_cosine:g}) raw_max_abs={p.raw_max_abs:.3g}")
    state = "written" if result.manifest_written else "NOT written (parity failed)"
    print(f"manifest {result.out_dir / 'vla.yaml'}: {state}")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    defaults = FP16_THRESHOLDS if args.fp16 else FP32_THRESHOLDS
    thresholds = None
    if args.min_cosine is not None or args.max_abs is not None:
        thresholds = ParityThresholds(min_cosine=args.min_cosine if args.min_cosine is not None
                                      else defaults.min_cosine,
                                      max_abs=args.max_abs if args.max_abs is not None else defaults.max_abs)
    try:
        if args.example in ("ar", "flow", "ar_300m", "flow_300m"):
            from vla_ros.training.scale_configs import SCALE_CONFIGS, build_scale_package

            if args.example in SCALE_CONFIGS:
                build_scale_package(args.example, args.out, seed=args.seed)
            elif args.example == "ar":
                from vla_ros.training.ar_package import build_ar_example

                build_ar_example(args.out, seed=args.seed, horizon=args.horizon)
            else:
                from vla_ros.training.flow_package import build_flow_example

                build_flow_example(args.out, seed=args.seed, horizon=args.horizon)
            print(f"vla_export: wrote {args.out} (parity report: {Path(args.out) / 'export_report.json'})")
            return 0
        if args.example:
            import torch

            from vla_ros.model.backends.torch_backend import import_module_class
            from vla_ros.training.families import FAMILIES
            from vla_ros.training.package_builder import example_draft

            draft, kwargs = example_draft(args.example, joint_names_count=args.joints, horizon=args.horizon,
                                          image_size=(96, 96), semantics=ActionSemantics.JOINT_POSITION_DELTA,
                                          control_period_s=0.1, action_scale=0.01)
            torch.manual_seed(args.seed)
            module = import_module_class(FAMILIES[args.example])(**kwargs)
            result = export_package(draft, args.out, module=module, samples=args.samples, seed=args.seed,
                                    tensorrt=args.tensorrt, fp16=args.fp16, thresholds=thresholds)
        elif args.draft is not None:
            draft = yaml.safe_load(args.draft.read_text(encoding="utf-8"))
            source_dir = args.source_dir or args.draft.parent
            result = export_package(draft, args.out, source_dir=source_dir, samples=args.samples, seed=args.seed,
                                    tensorrt=args.tensorrt, fp16=args.fp16, thresholds=thresholds)
        else:
            print("vla_export: give a DRAFT.yaml or --example act|rt2", file=sys.stderr)
            return 1
    except (ModelPackageError, OSError, ValueError, yaml.YAMLError) as exc:
        print(f"vla_export: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result.as_dict(), indent=2))
    else:
        _print_report(result)
    return 0 if result.manifest_written else 2


if __name__ == "__main__":
    sys.exit(main())
