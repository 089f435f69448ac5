"""Fuzzing every parser of outside input (issue 13) with hypothesis.

The property, for cards, Hub tags, adapter and mergekit configs, recipes, ``--parent`` and
``--require`` strings, lm-eval results and samples files and every CSV loader: the parser returns
a valid result or raises a :class:`HubLineageError` (a one-line message), never any other
exception; and a failed ingest leaves what was already stored as it was. Example counts are kept
small so the whole file runs in well under a minute.
"""

from __future__ import annotations

import json
import math
import sqlite3
import tempfile
import warnings
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub_lineage.benchmarks import BENCHMARK_KEYS
from hub_lineage.data.sources import detect
from hub_lineage.data.sources.lm_eval import read_results, read_samples_file
from hub_lineage.data.store.database import Store
from hub_lineage.data.store.ingest import ingest_paths
from hub_lineage.errors import HubLineageError
from hub_lineage.lineage import cards
from hub_lineage.lineage.recipes import parse_recipe
from hub_lineage.predict.predictor import parse_parent
from mergekit_hooks.preflight import parse_gate

FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEW = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

#: Pieces real inputs are made of, so that generated text gets past the first check often.
IDS = st.sampled_from(["org/a", "org/b", "Qwen/Qwen2.5-7B", "gpt2", "bad id/x", "../../x", "a\x00b/c", "", "org/",
                       "-x/y", "org/a--b", "x" * 100])
NUMBERS = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**20, 10**20),
                    st.sampled_from(["0.5", "1e308", "-1", "inf", "nan", "abc", ""]))
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, st.text(max_size=20), IDS)
JSONISH = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.one_of(st.text(max_size=8), st.sampled_from(
        ["model", "models", "parameters", "weight", "merge_method", "base_model", "slices", "sources",
         "layer_range", "t", "density", "config", "model_args", "versions", "model_name", "date",
         "base_model_relation", "tags", "base_model_name_or_path"])), inner, max_size=5)), max_leaves=12)


def holds(call: Any, *args: Any, **kwargs: Any) -> Any:
    """Call the parser: its result, or None when it refused with a project error."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return call(*args, **kwargs)
        except HubLineageError as exc:
            assert "\n" not in str(exc).strip() or "hub-lineage" in str(exc), str(exc)
            return None


def yaml_text(data: Any) -> str:
    try:
        return yaml.safe_dump(data, allow_unicode=True)
    except Exception:  # a value PyYAML cannot write (e.g. a surrogate): write what json does
        return json.dumps(data, default=str)


@FUZZ
@given(st.one_of(JSONISH.map(yaml_text), st.text(max_size=200)), st.sampled_from(["", "\ufeff", "\r\n"]))
def test_card_front_matter(body, prefix):
    text = prefix + "---\n" + body + "\n---\n# card\n"
    for edges in (holds(cards.edges_from_card, text, "org/model"), holds(cards.edges_from_card, body, "org/model")):
        for e in edges or []:
            assert e.child == "org/model" and e.parent != "org/model"


@FUZZ
@given(st.lists(st.one_of(st.text(max_size=30), IDS.map(lambda i: f"base_model:finetune:{i}"),
                          IDS.map(lambda i: f"base_model:{i}")), max_size=6))
def test_hub_tags(tags):
    parents = holds(cards.parents_from_tags, tags)
    assert parents is None or isinstance(parents, dict)


@FUZZ
@given(st.one_of(JSONISH.map(lambda d: json.dumps(d, default=str)), JSONISH.map(yaml_text), st.text(max_size=100)))
def test_adapter_and_mergekit_configs(text):
    holds(cards.adapter_base, text)
    shares = holds(cards.merge_shares, text)
    assert shares is None or all(math.isfinite(v) and v >= 0 for v in shares.values())


@FUZZ
@given(st.one_of(JSONISH.map(yaml_text), st.text(max_size=200)))
def test_recipes(text):
    recipe = holds(parse_recipe, text, source="fuzz.yml")
    if recipe is not None:
        assert all(math.isfinite(p.weight) and p.weight >= 0 for p in recipe.parents)


@FUZZ
@given(st.one_of(st.text(max_size=40), st.tuples(IDS, st.sampled_from(["", "merge", "finetune", "x"]), NUMBERS)
                 .map(lambda t: f"{t[0]}:{t[1]}:{t[2]}")))
def test_parent_strings(spec):
    edge = holds(parse_parent, spec, "local/planned")
    assert edge is None or edge.weight is None or (math.isfinite(edge.weight) and edge.weight >= 0)


@FUZZ
@given(st.one_of(st.text(max_size=30), st.tuples(st.sampled_from([*BENCHMARK_KEYS, "mean", "BBH", "x"]),
                                                 st.sampled_from([">=", "<=", ">", "<", "=", "=>"]), NUMBERS)
                 .map(lambda t: f"{t[0]}{t[1]}{t[2]}")))
def test_require_strings(text):
    gate = holds(parse_gate, text, BENCHMARK_KEYS)
    assert gate is None or 0.0 <= gate.threshold <= 1.0


@FEW
@given(st.one_of(JSONISH.map(lambda d: json.dumps(d, default=str).encode()), st.binary(max_size=200)),
       st.lists(st.one_of(JSONISH.map(lambda d: json.dumps(d, default=str).encode()), st.binary(max_size=60)),
                max_size=5))
def test_lm_eval_results_and_samples_files(results, lines):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "org__m"
        folder.mkdir()
        date = "2025-01-01T00-00-00.000000"
        (folder / f"results_{date}.json").write_bytes(results)
        holds(read_results, folder / f"results_{date}.json")
        samples = folder / f"samples_leaderboard_bbh_navigate_{date}.jsonl"
        samples.write_bytes(b"\n".join(lines))
        run = holds(read_samples_file, samples)
        if run is not None:
            assert len(run.values) == len(run.doc_hashes)
            assert all(math.isfinite(v) for v in run.values)


HEADERS = [["source", "target", "edge"], ["child", "parent", "relation", "weight"], ["model", "instance", "correct"],
           ["question_id", "question"], ["model", "hf_id", "parent"],
           ["eval_name", "Precision", "fullname", "BBH Raw", "IFEval Raw", "MATH Lvl 5 Raw", "GPQA Raw", "MUSR Raw",
            "MMLU-PRO Raw", "Generation", "Base Model"]]
CELLS = st.one_of(IDS, NUMBERS.map(str), st.sampled_from(["finetuned", "merged", "1", "0", "true", "x"]),
                  st.text(max_size=12))


def csv_bytes(header: list[str], rows: list[list[str]], bom: bool) -> bytes:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    text = buffer.getvalue().encode("utf-8", "surrogatepass")
    return (b"\xef\xbb\xbf" if bom else b"") + text


def snapshot(db: Path) -> tuple:
    con = sqlite3.connect(db)
    try:
        return (sorted(con.execute("SELECT child_id, parent_id, relation FROM edges")),
                sorted(con.execute("SELECT name FROM models")), con.execute("SELECT count(*) FROM runs").fetchone())
    finally:
        con.close()


@FEW
@given(st.sampled_from(HEADERS), st.lists(st.lists(CELLS, min_size=0, max_size=12), max_size=6), st.booleans(),
       st.one_of(st.none(), st.binary(max_size=80)))
def test_every_csv_loader_and_ingest_keep_the_store(header, rows, bom, raw):
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "s.sqlite"
        with Store(db) as store:
            store.add_edges([__import__("hub_lineage.lineage.edges", fromlist=["Edge"]).Edge("keep/child", "keep/parent")])
        before = snapshot(db)
        path = Path(tmp) / "input.csv"
        path.write_bytes(raw if raw is not None else csv_bytes(header, rows, bom))
        holds(detect.load_dataset, [path])
        with Store(db) as store:
            report = holds(ingest_paths, store, [path])
        after = snapshot(db)
        if report is None:
            assert after == before  # a refused ingest stores nothing
        else:
            assert set(before[0]) <= set(after[0]) and set(before[1]) <= set(after[1])
            assert min(report.to_json().values()) >= 0
