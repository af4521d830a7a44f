"""Parsing the parts of a manifest that only the multi-graph kinds have.

`outputs.autoregressive` and `outputs.flow` say how the two ONNX graphs of an `autoregressive_tokens` or a
`flow_matching` package are wired; `weights.onnx_graphs` names the graph files by role. Same strictness as
vla_ros.model.manifest: unknown fields are refused, and every error names the dotted field path.
"""

from __future__ import annotations

from vla_ros.model.errors import ModelPackageError
from vla_ros.model.manifest_reader import Section, weight_file
from vla_ros.model.manifest_types import (
    MANIFEST_FILE,
    AutoregressiveSpec,
    BinEncoding,
    BinScheme,
    BinsSpec,
    FlowSpec,
    OutputKind,
    RtcSpec,
    WeightFile,
)

# Euler steps beyond this are a typo (pi0 uses 10); each one is a full velocity-graph call per chunk.
MAX_FLOW_STEPS = 1000


def _tensor_name(sec: Section, key: str) -> str:
    name = sec.string(key)
    assert name is not None
    if not name:
        raise sec.error(key, "a non-empty tensor name", name)
    return name


def parse_autoregressive(sec: Section, bins: BinsSpec | None, horizon: int, action_dim: int) -> AutoregressiveSpec:
    """`outputs.autoregressive`; the action tokens must map onto `outputs.bins` as token ids."""
    vocab_size = sec.integer("vocab_size", minimum=2)
    assert vocab_size is not None
    token = _tensor_name(sec, "token")
    past = _tensor_name(sec, "past")
    present = _tensor_name(sec, "present")
    restrict = sec.boolean("restrict_to_action_tokens")
    sec.finish()
    if len({token, past, present}) != 3:
        raise sec.error("present", "tensor names different from each other (token, past, present)",
                        [token, past, present])
    if bins is None or bins.encoding is not BinEncoding.TOKEN_IDS:
        raise ModelPackageError(f"{MANIFEST_FILE}: field 'outputs.bins.encoding': an autoregressive_tokens "
                                "package decodes token ids, so outputs.bins must say encoding: token_ids")
    if bins.scheme is BinScheme.OPENVLA:
        assert bins.vocab_size is not None
        if bins.vocab_size != vocab_size:
            raise sec.error("vocab_size", f"the openvla token map's vocabulary, outputs.bins.vocab_size = "
                            f"{bins.vocab_size}", vocab_size)
    else:
        assert bins.token_offset is not None
        if bins.token_offset + bins.n_bins > vocab_size:
            raise sec.error("vocab_size", f"at least token_offset + n_bins = {bins.token_offset + bins.n_bins} "
                            "(every action token must be a logit)", vocab_size)
    return AutoregressiveSpec(vocab_size, token, past, present, restrict)


def parse_flow(sec: Section, horizon: int) -> FlowSpec:
    """`outputs.flow`."""
    steps = sec.integer("steps", minimum=1)
    assert steps is not None
    if steps > MAX_FLOW_STEPS:
        raise sec.error("steps", f"at most {MAX_FLOW_STEPS} Euler steps", steps)
    noise_seed = sec.integer("noise_seed", minimum=0)
    assert noise_seed is not None
    context_value = sec.required("context")
    if isinstance(context_value, str):
        context_value = [context_value]
    if (not isinstance(context_value, list) or not context_value
            or not all(isinstance(c, str) and c for c in context_value)):
        raise sec.error("context", "a tensor name or a non-empty list of them (the prefix graph's outputs)",
                        context_value)
    if len(set(context_value)) != len(context_value):
        raise sec.error("context", "unique tensor names", context_value)
    noisy_actions = _tensor_name(sec, "noisy_actions")
    time = _tensor_name(sec, "time")
    sec.required("rtc")  # the key must be present; `null` says "not trained for real-time chunking" explicitly
    rtc_sec = sec.section("rtc", optional=True)
    rtc = None
    if rtc_sec is not None:
        max_delay = rtc_sec.integer("max_delay_steps", minimum=1)
        assert max_delay is not None
        if max_delay >= horizon:
            raise rtc_sec.error("max_delay_steps", f"fewer steps than the chunk (horizon {horizon})", max_delay)
        rtc_sec.finish()
        rtc = RtcSpec(max_delay)
    sec.finish()
    names = [*context_value, noisy_actions, time]
    if len(set(names)) != len(names):
        raise sec.error("time", "tensor names different from each other (context, noisy_actions, time)", names)
    return FlowSpec(steps, noise_seed, tuple(context_value), noisy_actions, time, rtc)


def parse_onnx_graphs(sec: Section, kind: OutputKind, *, draft: bool) -> dict[str, WeightFile]:
    """`weights.onnx_graphs`: exactly the kind's graph roles, each a file with its sha256."""
    graphs: dict[str, WeightFile] = {}
    for role in kind.graph_roles:
        role_sec = sec.section(role)
        assert role_sec is not None
        graphs[role] = weight_file(role_sec, draft=draft)
    sec.finish()
    files = [g.file for g in graphs.values()]
    if len(set(files)) != len(files):
        raise sec.error(kind.graph_roles[-1], "a file of its own for each graph", files)
    return graphs
