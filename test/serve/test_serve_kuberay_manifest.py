"""The KubeRay RayService manifest in README's "Serving (vla_serve)" section, parsed: it must name vla_serve's
application builder with options vla_serve accepts (Kubernetes itself is not run)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from vla_ros.serve.options import ServeOptions

README = Path(__file__).resolve().parents[2] / "README.md"


def _manifest() -> dict:
    section = README.read_text().split("## Serving (vla_serve)", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```yaml\n(.*?)```", section, flags=re.DOTALL)
    assert len(blocks) == 1, "one yaml block (the RayService) in the Serving section"
    return yaml.safe_load(blocks[0])


def test_when_readme_rayservice_parsed_expect_vla_serve_builder_with_valid_args() -> None:
    manifest = _manifest()
    assert manifest["apiVersion"].startswith("ray.io/") and manifest["kind"] == "RayService"
    [application] = yaml.safe_load(manifest["spec"]["serveConfigV2"])["applications"]
    assert application["import_path"] == "vla_ros.serve.app:build_app"
    module, _, builder = application["import_path"].partition(":")
    assert module == "vla_ros.serve.app" and (Path(__file__).resolve().parents[2] / "vla_ros" / "serve" /
                                              "app.py").read_text().count(f"def {builder}(") == 1
    options = ServeOptions.from_args(application["args"])  # the same checks as vla_serve's command line
    assert options.replicas >= 1 and options.batching and options.api_key_env
    ray_version = manifest["spec"]["rayClusterConfig"]["rayVersion"]
    assert ray_version.startswith("2.60"), "the cluster's Ray must match the serve extra's ray[serve]==2.60.*"
