"""Manifests of the multi-graph kinds (autoregressive_tokens, flow_matching): every new field is validated, and
every rejection names the field."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from vla_ros.model import ModelPackageError
from vla_ros.model.manifest import parse_manifest
from vla_ros.model.manifest_types import BinScheme, OutputKind

SHA = "0" * 64


def _base(act_package_dir: Path) -> dict[str, Any]:
    data = yaml.safe_load((act_package_dir / "vla.yaml").read_text())
    data["action"]["normalization"] = {"kind": "none"}
    data["action"]["semantics"] = "joint_position"
    data["weights"] = {"onnx_graphs": {}}
    return data


@pytest.fixture
def ar_manifest(act_package_dir: Path) -> dict[str, Any]:
    data = _base(act_package_dir)
    data["outputs"] = {
        "kind": "autoregressive_tokens", "tensor": "logits", "horizon": 10, "action_dim": 6,
        "bins": {"scheme": "rt2", "n_bins": 256, "encoding": "token_ids", "token_offset": 256},
        "autoregressive": {"vocab_size": 512, "token": "token", "past": "past_kv", "present": "present_kv",
                           "restrict_to_action_tokens": True},
    }
    data["weights"]["onnx_graphs"] = {"prefill": {"file": "prefill.onnx", "sha256": SHA},
                                      "step": {"file": "step.onnx", "sha256": SHA}}
    return data


@pytest.fixture
def flow_manifest(act_package_dir: Path) -> dict[str, Any]:
    data = _base(act_package_dir)
    data["outputs"] = {
        "kind": "flow_matching", "tensor": "velocity", "horizon": 10, "action_dim": 6,
        "flow": {"steps": 10, "noise_seed": 0, "context": ["context"], "noisy_actions": "noisy_actions",
                 "time": "time", "rtc": {"max_delay_steps": 5}},
    }
    data["weights"]["onnx_graphs"] = {"prefix": {"file": "prefix.onnx", "sha256": SHA},
                                      "velocity": {"file": "velocity.onnx", "sha256": SHA}}
    return data


def _edited(data: dict[str, Any], edit: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    copied = copy.deepcopy(data)
    edit(copied)
    return copied


def test_when_autoregressive_manifest_is_parsed_expect_wiring_and_graph_files(ar_manifest: dict[str, Any]) -> None:
    manifest = parse_manifest(ar_manifest)
    assert manifest.outputs.kind is OutputKind.AUTOREGRESSIVE_TOKENS
    assert manifest.outputs.autoregressive is not None
    assert manifest.outputs.autoregressive.past == "past_kv"
    assert manifest.outputs.autoregressive.restrict_to_action_tokens is True
    assert sorted(manifest.onnx_graphs) == ["prefill", "step"]
    assert manifest.onnx is None
    assert manifest.output_shape() == ((1, 10, 6), "int")


def test_when_flow_manifest_is_parsed_expect_steps_seed_and_rtc(flow_manifest: dict[str, Any]) -> None:
    manifest = parse_manifest(flow_manifest)
    flow = manifest.outputs.flow
    assert flow is not None and (flow.steps, flow.noise_seed, flow.context) == (10, 0, ("context",))
    assert flow.rtc is not None and flow.rtc.max_delay_steps == 5
    assert manifest.output_shape() == ((1, 10, 6), "float")


def test_when_flow_context_is_one_name_expect_a_one_item_tuple(flow_manifest: dict[str, Any]) -> None:
    manifest = parse_manifest(_edited(flow_manifest, lambda d: d["outputs"]["flow"].update(context="ctx")))
    assert manifest.outputs.flow is not None and manifest.outputs.flow.context == ("ctx",)


def test_when_flow_rtc_is_null_expect_no_real_time_chunking(flow_manifest: dict[str, Any]) -> None:
    manifest = parse_manifest(_edited(flow_manifest, lambda d: d["outputs"]["flow"].update(rtc=None)))
    assert manifest.outputs.flow is not None and manifest.outputs.flow.rtc is None


def test_when_openvla_token_map_matches_vocab_expect_accepted(ar_manifest: dict[str, Any]) -> None:
    def openvla(d: dict[str, Any]) -> None:
        d["outputs"]["bins"] = {"scheme": "openvla", "n_bins": 256, "encoding": "token_ids", "vocab_size": 512}

    manifest = parse_manifest(_edited(ar_manifest, openvla))
    assert manifest.outputs.bins is not None and manifest.outputs.bins.scheme is BinScheme.OPENVLA


def _set(path: str, value: object) -> Callable[[dict[str, Any]], None]:
    def edit(d: dict[str, Any]) -> None:
        node = d
        keys = path.split(".")
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value
    return edit


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    def edit(d: dict[str, Any]) -> None:
        node = d
        keys = path.split(".")
        for key in keys[:-1]:
            node = node[key]
        del node[keys[-1]]
    return edit


AR_BAD = [
    (_drop("outputs.autoregressive"), r"missing required field 'outputs\.autoregressive'"),
    (_set("outputs.autoregressive.vocab_size", 1), r"'outputs\.autoregressive\.vocab_size'"),
    (_set("outputs.autoregressive.vocab_size", 300), r"'outputs\.autoregressive\.vocab_size'.*token_offset \+ n_bins"),
    (_set("outputs.autoregressive.token", ""), r"'outputs\.autoregressive\.token'"),
    (_drop("outputs.autoregressive.past"), r"missing required field 'outputs\.autoregressive\.past'"),
    (_set("outputs.autoregressive.present", "past_kv"), r"'outputs\.autoregressive\.present'"),
    (_set("outputs.autoregressive.restrict_to_action_tokens", "yes"),
     r"'outputs\.autoregressive\.restrict_to_action_tokens'"),
    (_set("outputs.autoregressive.beam_width", 4), r"unknown field\(s\) 'outputs\.autoregressive\.beam_width'"),
    (_set("outputs.bins", {"scheme": "rt2", "n_bins": 256, "encoding": "logits"}),
     r"'outputs\.bins\.encoding'.*token_ids"),
    (_set("outputs.bins", {"scheme": "openvla", "n_bins": 256, "encoding": "token_ids", "vocab_size": 600}),
     r"'outputs\.autoregressive\.vocab_size'.*openvla"),
    (_drop("weights.onnx_graphs.step"), r"missing required field 'weights\.onnx_graphs\.step'"),
    (_set("weights.onnx_graphs.step", {"file": "prefill.onnx", "sha256": SHA}), r"'weights\.onnx_graphs\.step'.*own"),
    (_set("weights.onnx_graphs.velocity", {"file": "v.onnx", "sha256": SHA}),
     r"unknown field\(s\) 'weights\.onnx_graphs\.velocity'"),
    (_set("weights.onnx", {"file": "model.onnx", "sha256": SHA}), r"'weights\.onnx'.*weights\.onnx_graphs"),
    (_set("weights.onnx_graphs", None), r"'weights\.onnx_graphs'.*neither given"),
    (_set("outputs.autoregressive.token", "state"), r"tensor names must be unique"),
]


@pytest.mark.parametrize(("edit", "message"), AR_BAD)
def test_when_autoregressive_field_is_invalid_expect_error_naming_it(ar_manifest: dict[str, Any], edit: Any,
                                                                     message: str) -> None:
    with pytest.raises(ModelPackageError, match=message):
        parse_manifest(_edited(ar_manifest, edit))


FLOW_BAD = [
    (_drop("outputs.flow"), r"missing required field 'outputs\.flow'"),
    (_set("outputs.flow.steps", 0), r"'outputs\.flow\.steps'"),
    (_set("outputs.flow.steps", 100000), r"'outputs\.flow\.steps'.*at most"),
    (_set("outputs.flow.noise_seed", -1), r"'outputs\.flow\.noise_seed'"),
    (_drop("outputs.flow.noise_seed"), r"missing required field 'outputs\.flow\.noise_seed'"),
    (_set("outputs.flow.context", []), r"'outputs\.flow\.context'"),
    (_set("outputs.flow.context", ["a", "a"]), r"'outputs\.flow\.context'.*unique"),
    (_set("outputs.flow.noisy_actions", ""), r"'outputs\.flow\.noisy_actions'"),
    (_set("outputs.flow.time", "noisy_actions"), r"'outputs\.flow\.time'"),
    (_drop("outputs.flow.rtc"), r"missing required field 'outputs\.flow\.rtc'"),
    (_set("outputs.flow.rtc", {"max_delay_steps": 0}), r"'outputs\.flow\.rtc\.max_delay_steps'"),
    (_set("outputs.flow.rtc", {"max_delay_steps": 10}), r"'outputs\.flow\.rtc\.max_delay_steps'.*horizon"),
    (_set("outputs.flow.rtc", {"max_delay_steps": 2, "soft": True}), r"unknown field\(s\) 'outputs\.flow\.rtc\.soft'"),
    (_set("outputs.flow.solver", "rk4"), r"unknown field\(s\) 'outputs\.flow\.solver'"),
    (_drop("weights.onnx_graphs.prefix"), r"missing required field 'weights\.onnx_graphs\.prefix'"),
    (_set("weights.onnx_graphs.prefix", {"file": "../prefix.onnx", "sha256": SHA}),
     r"'weights\.onnx_graphs\.prefix\.file'"),
    (_set("weights.onnx_graphs.velocity", {"file": "velocity.onnx", "sha256": "abc"}),
     r"'weights\.onnx_graphs\.velocity\.sha256'"),
    (_set("outputs.flow.context", ["image_front"]), r"tensor names must be unique"),
]


@pytest.mark.parametrize(("edit", "message"), FLOW_BAD)
def test_when_flow_field_is_invalid_expect_error_naming_it(flow_manifest: dict[str, Any], edit: Any,
                                                           message: str) -> None:
    with pytest.raises(ModelPackageError, match=message):
        parse_manifest(_edited(flow_manifest, edit))


def test_when_single_graph_kind_ships_onnx_graphs_expect_error_naming_weights_onnx_graphs(
        act_package_dir: Path) -> None:
    data = yaml.safe_load((act_package_dir / "vla.yaml").read_text())
    data["weights"]["onnx_graphs"] = {"prefill": {"file": "p.onnx", "sha256": SHA}}
    with pytest.raises(ModelPackageError, match=r"'weights\.onnx_graphs'.*weights\.onnx"):
        parse_manifest(data)
