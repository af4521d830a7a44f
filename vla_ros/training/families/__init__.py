"""Small model families built here in torch and exported to ONNX (see README.md, "Model families").

rt2_bins: RT-2-style ViT patches + language -> action-token logits over uniform bins.
act_chunk: ACT-style image + state + language -> a continuous [T, D] action chunk from learned queries.
"""

FAMILIES = {
    "act": "vla_ros.training.families.act_chunk:ActChunkPolicy",
    "rt2": "vla_ros.training.families.rt2_bins:Rt2BinsPolicy",
}
