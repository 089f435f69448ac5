"""The pydantic-free recipe reader: same config as the pydantic mirror, same errors, no pydantic import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from hub_lineage.errors import DataFormatError
from hub_lineage.lineage import recipe_config
from hub_lineage.lineage.recipe_schema import RecipeConfig as Schema
from hub_lineage.lineage.recipe_schema import validate
from hub_lineage.lineage.recipes import parse_recipe

ROOT = Path(__file__).resolve().parents[3]
ALL = sorted((ROOT / "tests" / "fixtures" / "recipes").glob("*.yml"))


def _view(cfg) -> tuple:
    """What the rest of the code reads from a config: its units and its referenced models."""
    units = [(w, [(str(r), r.path, r.revision, r.lora, p) for r, p in inputs], params)
             for w, inputs, params in recipe_config.units(cfg)]
    fields = (cfg.merge_method, cfg.dtype, cfg.chat_template, cfg.out_dtype, cfg.parameters, cfg.tokenizer_source)
    return units, [str(r) for r in cfg.referenced_models()], fields


@pytest.mark.parametrize("path", ALL, ids=[p.stem for p in ALL])
def test_canonical_recipes_read_as_pydantic_reads_them(path):
    data = yaml.safe_load(path.read_text())
    fast = recipe_config.read_config(data)
    assert isinstance(fast, recipe_config.RecipeConfig)  # the fast path took it
    assert _view(fast) == _view(Schema.model_validate(data))


def test_coercible_input_goes_through_pydantic_and_reads_the_same():
    text = """
merge_method: passthrough
slices:
  - sources:
      - model: Qwen/Qwen2.5-7B
        layer_range: ["0", 16.0]
    residual_weight: 1
"""
    data = yaml.safe_load(text)
    assert recipe_config.read_config(data) is None  # not canonical: left to pydantic
    cfg = validate(data)
    assert isinstance(cfg, Schema) and cfg.slices[0].sources[0].layer_range == (0, 16)
    assert parse_recipe(text, source="c.yml").shares() == {"Qwen/Qwen2.5-7B": 1.0}


@pytest.mark.parametrize("text", [
    "merge_method: linear\nmodels:\n  - parameters: {weight: 1}\n",                          # missing model
    "merge_method: linear\nmodels:\n  - model: 3\n",                                         # wrong type
    "merge_method: linear\nmodels:\n  - model: a/b+c+d\n",                                  # two '+'
    "merge_method: passthrough\nslices:\n  - sources:\n      - model: a/b\n        layer_range: [0]\n",
    "merge_method: linear\nmodels:\n  - model: a/b\n    parameters: [1, 2]\n",
])
def test_bad_fields_raise_the_pydantic_message(text):
    data = yaml.safe_load(text)
    with pytest.raises(ValidationError) as info:
        Schema.model_validate(data)
    first = info.value.errors()[0]
    where = ".".join(str(x) for x in first["loc"]) or "recipe"
    expected = f"bad.yml: invalid recipe field {where!r}: {first['msg']}."
    with pytest.raises(DataFormatError) as got:
        parse_recipe(text, source="bad.yml")
    assert str(got.value) == expected


def test_a_canonical_recipe_never_imports_pydantic():
    code = ("import sys\nfrom hub_lineage.lineage.recipes import load_recipe\n"
            f"r = load_recipe({str(ALL[0])!r})\nprint(bool(r.parents), 'pydantic' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.split() == ["True", "False"]
