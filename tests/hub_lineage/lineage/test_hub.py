"""HubClient against the loopback Hub: real huggingface_hub requests, no mocks."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import pytest
from huggingface_hub import CommitOperationAdd, HfApi

from hub_lineage.errors import (
    GatedRepoError,
    HubUnavailableError,
    InvalidInputError,
    InvalidRepoIdError,
    LineageWarning,
    RepoNotFoundError,
)
from hub_lineage.lineage.edges import Edge, Relation
from hub_lineage.lineage.graph import LineageGraph
from hub_lineage.lineage.hub import HubClient

CARDS = Path(__file__).resolve().parents[2] / "fixtures" / "cards"


def _card(name: str) -> str:
    return (CARDS / name / "README.md").read_text()


def _client(hub, **kwargs) -> HubClient:
    kwargs.setdefault("backoff_s", 0.01)
    kwargs.setdefault("timeout_s", 5.0)
    return HubClient(hub.api, **kwargs)


def _host_qwen_family(hub) -> None:
    hub.add_model("Qwen/Qwen2.5-7B", "---\nlicense: apache-2.0\n---\n# Qwen2.5-7B\n")
    hub.add_model("Qwen/Qwen2.5-7B-Instruct", "---\nbase_model: Qwen/Qwen2.5-7B\n---\n# Instruct\n",
                  tags=["base_model:Qwen/Qwen2.5-7B", "base_model:finetune:Qwen/Qwen2.5-7B"])
    hub.add_model("Qwen/Qwen2.5-Math-7B", "---\nbase_model: Qwen/Qwen2.5-7B\n---\n")


def test_each_card_form_served_by_the_hub(hub):
    _host_qwen_family(hub)
    hub.add_model("me/ultrachat-sft", _card("finetune"))
    hub.add_model("me/llama-lora", _card("adapter"),
                  files={"adapter_config.json": (CARDS / "adapter" / "adapter_config.json").read_text()})
    hub.add_model("bartowski/Qwen2.5-7B-Instruct-GGUF", _card("gguf"),
                  files={"Qwen2.5-7B-Instruct-Q4_K_M.gguf": b"GGUF\x03\x00"})
    hub.add_model("me/Qwen2.5-7B-TIES-Blend", _card("merge"),
                  files={"mergekit_config.yml": (CARDS / "merge" / "mergekit_config.yml").read_text()})
    hub.add_model("someone/my-first-model", _card("no_metadata"))
    client = _client(hub)

    def parents(repo):
        return {(e.parent, e.relation, e.weight) for e in client.direct_parents(repo)}

    assert parents("me/ultrachat-sft") == {("Qwen/Qwen2.5-7B-Instruct", Relation.FINETUNE, None)}
    assert parents("me/llama-lora") == {("meta-llama/Llama-3.1-8B-Instruct", Relation.ADAPTER, None)}
    assert parents("bartowski/Qwen2.5-7B-Instruct-GGUF") == {("Qwen/Qwen2.5-7B-Instruct", Relation.QUANTIZED, None)}
    # the recipe's shares, as `predict --recipe` reads them (ties: base 0.5, task vectors 0.3/0.2)
    assert {(p, r, round(w, 6)) for p, r, w in parents("me/Qwen2.5-7B-TIES-Blend")} == {
        ("Qwen/Qwen2.5-7B", Relation.MERGE, 0.5), ("Qwen/Qwen2.5-7B-Instruct", Relation.MERGE, 0.3),
        ("Qwen/Qwen2.5-Math-7B", Relation.MERGE, 0.2)}
    assert parents("someone/my-first-model") == set()
    downloaded = hub.server.paths("GET")
    assert "/me/llama-lora/resolve/main/adapter_config.json" in downloaded
    assert "/me/Qwen2.5-7B-TIES-Blend/resolve/main/mergekit_config.yml" in downloaded
    assert not any(p.endswith(".gguf") for p in downloaded)  # weights are never downloaded


def test_tags_only_repo(hub):
    hub.add_model("org/merged", tags=["base_model:merge:org/x", "base_model:merge:org/y"])
    edges = _client(hub).direct_parents("org/merged")
    assert {(e.parent, e.relation) for e in edges} == {("org/x", Relation.MERGE), ("org/y", Relation.MERGE)}


def test_resolve_walks_to_the_roots(hub):
    _host_qwen_family(hub)
    hub.add_model("me/Qwen2.5-7B-TIES-Blend", _card("merge"))
    hub.add_model("me/blend-GGUF", "---\nbase_model: me/Qwen2.5-7B-TIES-Blend\n---\n", files={"m.Q4_0.gguf": b"x"})
    graph = _client(hub).resolve("me/blend-GGUF")
    assert graph.ancestors("me/blend-GGUF") == {"me/Qwen2.5-7B-TIES-Blend": 1, "Qwen/Qwen2.5-7B": 2,
                                                "Qwen/Qwen2.5-7B-Instruct": 2, "Qwen/Qwen2.5-Math-7B": 2}
    assert graph.roots("me/blend-GGUF") == ["Qwen/Qwen2.5-7B"]
    assert graph.canonical("me/blend-GGUF") == "me/Qwen2.5-7B-TIES-Blend"
    info_requests = [p for p in hub.server.paths("GET") if p.startswith("/api/models/")]
    assert len(info_requests) == len(set(info_requests)) == 5  # each repo asked once


def test_resolve_respects_max_depth(hub):
    _host_qwen_family(hub)
    hub.add_model("me/a", "---\nbase_model: Qwen/Qwen2.5-7B-Instruct\n---\n")
    hub.add_model("me/b", "---\nbase_model: me/a\n---\n")
    client = _client(hub)
    assert client.resolve("me/b", max_depth=0).nodes == ["me/b"]
    assert set(client.resolve("me/b", max_depth=1).nodes) == {"me/b", "me/a"}
    assert set(client.resolve("me/b", max_depth=2).nodes) == {"me/b", "me/a", "Qwen/Qwen2.5-7B-Instruct"}
    assert "/api/models/Qwen/Qwen2.5-7B" not in hub.server.paths()  # never asked past the limit
    with pytest.raises(InvalidInputError, match="max_depth"):
        client.resolve("me/b", max_depth=-1)


def test_a_cycle_on_the_hub_terminates_with_a_warning(hub):
    hub.add_model("org/A", "---\nbase_model: org/B\n---\n")
    hub.add_model("org/B", "---\nbase_model: org/A\n---\n")
    with pytest.warns(LineageWarning, match="cycle"):
        graph = _client(hub).resolve("org/A")
    assert set(graph.nodes) == {"org/A", "org/B"}
    assert [(e.child, e.parent) for e in graph.edges] == [("org/A", "org/B")]
    assert len(hub.server.paths("GET")) <= 6


def test_self_loop_on_the_hub(hub):
    hub.add_model("org/A", "---\nbase_model: org/A\n---\n")
    with pytest.warns(LineageWarning, match="self-loop"):
        graph = _client(hub).resolve("org/A")
    assert graph.edges == []


def test_404_is_repo_not_found_naming_the_repo(hub):
    with pytest.raises(RepoNotFoundError, match="'org/missing' was not found"):
        _client(hub).direct_parents("org/missing")
    assert issubclass(RepoNotFoundError, FileNotFoundError)


def test_missing_ancestor_stops_the_walk_with_a_warning(hub):
    hub.add_model("org/child", "---\nbase_model: org/deleted-parent\n---\n")
    with pytest.warns(LineageWarning, match="org/deleted-parent"):
        graph = _client(hub).resolve("org/child")
    assert set(graph.nodes) == {"org/child", "org/deleted-parent"}


def test_gated_repo(hub):
    hub.add_model("meta-llama/Llama-3.1-8B", "---\nlicense: llama3.1\n---\n", gated=True)
    hub.add_model("org/gated-adapter", files={"adapter_config.json": '{"base_model_name_or_path": "a/b"}'},
                  gated="manual")
    client = _client(hub)
    assert client.direct_parents("meta-llama/Llama-3.1-8B") == []  # its public metadata says: a root
    with pytest.raises(GatedRepoError, match="accept its conditions|Accept its conditions"):
        client.model_card_text("meta-llama/Llama-3.1-8B")
    with pytest.raises(GatedRepoError, match="org/gated-adapter") as info:
        client.direct_parents("org/gated-adapter")
    assert "log in" in str(info.value)
    assert isinstance(info.value, PermissionError)


def test_gated_repo_tags_still_give_lineage(hub):
    hub.add_model("org/gated-ft", "---\nbase_model: org/base\n---\n", tags=["base_model:finetune:org/base"], gated=True)
    edges = _client(hub).direct_parents("org/gated-ft")
    assert [(e.parent, e.relation) for e in edges] == [("org/base", Relation.FINETUNE)]


def test_private_repo_without_token(hub):
    hub.add_model("org/private", "---\nbase_model: org/x\n---\n", private=True)
    with pytest.raises(RepoNotFoundError, match="private"):
        _client(hub).direct_parents("org/private")


def test_token_is_never_shown(hub, caplog, capsys):
    secret = "hf_" + "S3cr3tT0kenValue" * 2
    hub.add_model("org/gated", files={"adapter_config.json": "{}"}, gated=True)
    hub.server.fail_next(1, 500, "/api/models/org/flaky")
    hub.add_model("org/flaky", "---\nbase_model: org/x\n---\n")
    client = HubClient(HfApi(endpoint=hub.url, token=secret), backoff_s=0.01)
    caplog.set_level(logging.DEBUG)
    messages = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(GatedRepoError) as info:
            client.direct_parents("org/gated")
        messages.append(str(info.value))
        client.direct_parents("org/flaky")
        with pytest.raises(RepoNotFoundError) as info:
            client.direct_parents("org/none")
        messages.append(str(info.value))
    messages += [str(w.message) for w in caught]
    out, err = capsys.readouterr()
    sent = [h.get("authorization") for _, _, h in hub.server.requests]
    assert f"Bearer {secret}" in sent  # it was really used...
    for text in [*messages, caplog.text, out, err, repr(client.__dict__)]:
        assert secret not in text  # ...and never shown
    cached = "".join(p.read_text() for p in client.cache_dir.rglob("*.json"))
    assert secret not in cached


def test_retries_on_5xx_and_429(hub):
    hub.add_model("org/m", "---\nbase_model: org/x\n---\n")
    hub.server.fail_next(2, 500, "/api/models/org/m")
    hub.server.fail_next(1, 429, "/org/m/resolve/")
    edges = _client(hub, max_retries=3).direct_parents("org/m")
    assert [e.parent for e in edges] == ["org/x"]
    assert hub.server.paths("GET").count("/api/models/org/m") == 3


def test_gives_up_after_max_retries(hub):
    hub.add_model("org/m", "---\nbase_model: org/x\n---\n")
    hub.server.fail_next(10, 503, "/api/models/org/m")
    with pytest.raises(HubUnavailableError, match="HTTP 503 after 3 attempt"):
        _client(hub, max_retries=2).direct_parents("org/m")
    assert hub.server.paths("GET").count("/api/models/org/m") == 3


def test_timeout_is_retried(hub):
    hub.add_model("org/slow", "---\nbase_model: org/x\n---\n")
    hub.server.delay(1.5, count=1, path_contains="/api/models/org/slow")
    edges = _client(hub, timeout_s=0.3).direct_parents("org/slow")
    assert [e.parent for e in edges] == ["org/x"]
    hub.server.delay(1.5, count=5, path_contains="/api/models/org/slower")
    hub.add_model("org/slower")
    with pytest.raises(HubUnavailableError, match="timeout"):
        _client(hub, timeout_s=0.2, max_retries=1).direct_parents("org/slower")


def test_unreachable_hub():
    client = HubClient(HfApi(endpoint="http://127.0.0.1:9", token=False), max_retries=1, backoff_s=0.01, timeout_s=1)
    with pytest.raises(HubUnavailableError, match="org/m"):
        client.direct_parents("org/m")


def test_cache_then_offline(hub):
    _host_qwen_family(hub)
    hub.add_model("me/ft", _card("finetune"))
    online = _client(hub).resolve("me/ft")
    n_requests = len(hub.server.requests)
    offline = _client(hub, offline=True)
    assert offline.resolve("me/ft").to_json() == online.to_json()
    assert offline.model_card_text("me/ft") == _card("finetune")
    assert len(hub.server.requests) == n_requests  # nothing asked
    with pytest.raises(HubUnavailableError, match="Offline mode: 'org/unknown'"):
        offline.direct_parents("org/unknown")


def test_offline_from_the_environment(hub, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    local = LineageGraph([Edge("me/x", "org/base")])
    client = HubClient(hub.api, local_graph=local)
    assert client.offline
    assert [e.parent for e in client.resolve("me/x").edges] == ["org/base"]
    assert hub.server.requests == []


def test_ttl(hub):
    hub.add_model("org/m", "---\nbase_model: org/x\n---\n")
    _client(hub).direct_parents("org/m")
    _client(hub).direct_parents("org/m")
    assert hub.server.paths("GET").count("/api/models/org/m") == 1
    _client(hub, ttl_s=0).direct_parents("org/m")
    assert hub.server.paths("GET").count("/api/models/org/m") == 2


def test_stale_cache_is_used_when_the_hub_is_down(hub):
    hub.add_model("org/m", "---\nbase_model: org/x\n---\n")
    _client(hub).direct_parents("org/m")
    hub.server.fail_next(10, 502, "/api/models/org/m")
    with pytest.warns(LineageWarning, match="cached"):
        edges = _client(hub, ttl_s=0, max_retries=1).direct_parents("org/m")
    assert [e.parent for e in edges] == ["org/x"]


def test_local_graph_fills_gaps(hub):
    hub.add_model("org/no-card")
    local = LineageGraph([Edge("org/no-card", "org/base", Relation.MERGE), Edge("org/not-on-hub", "org/base")])
    client = _client(hub, local_graph=local)
    assert [e.parent for e in client.direct_parents("org/no-card")] == ["org/base"]
    assert [e.parent for e in client.direct_parents("org/not-on-hub")] == ["org/base"]


def test_malformed_card_on_the_hub_falls_back_to_tags(hub):
    hub.add_model("org/broken", _card("malformed"), tags=["base_model:finetune:org/base"])
    with pytest.warns(LineageWarning, match="Malformed YAML.*org/broken/README.md"):
        edges = _client(hub).direct_parents("org/broken")
    assert [e.parent for e in edges] == ["org/base"]


def test_a_mergekit_config_that_breaks_the_recipe_rules_falls_back_to_the_card_data(hub):
    hub.add_model("org/blend", "---\nbase_model: [org/a, org/b]\n---\n",
                  files={"mergekit_config.yml": "models:\n  - model: org/a\n  - model: org/b\nmerge_method: tie\n"})
    with pytest.warns(LineageWarning, match="org/blend/mergekit_config.yml: unknown merge_method 'tie'"):
        edges = _client(hub).direct_parents("org/blend")
    assert {(e.parent, e.relation, e.weight) for e in edges} == {("org/a", Relation.MERGE, None),
                                                                 ("org/b", Relation.MERGE, None)}


def test_hub_errors_name_the_repo_for_datasets_and_pushes(hub):
    """One translation for every Hub request: reads of models and datasets, and writes."""
    from hub_lineage.lineage.hub_errors import NO_RETRY, Retry, hub_call

    hub.server.add_dataset("org/gated-data", {"a.txt": "x"}, gated=True)
    api = hub.api
    with pytest.raises(GatedRepoError, match="https://huggingface.co/datasets/org/gated-data"):
        hub_call(lambda: api.hf_hub_download("org/gated-data", "a.txt", repo_type="dataset"),
                 repo_id="org/gated-data", what="a.txt", repo_type="dataset")
    with pytest.raises(RepoNotFoundError, match="Dataset 'org/none' was not found on the Hub at .*: try x"):
        hub_call(lambda: api.list_repo_files("org/none", repo_type="dataset"), repo_id="org/none",
                 what="the file list", endpoint=hub.url, repo_type="dataset", hint="try x")
    hub.add_model("org/m")
    writer = HfApi(endpoint=hub.url, token="hf_writer")
    hub.server.fail_next(5, 500, "/api/models/org/m/commit/")
    with pytest.raises(HubUnavailableError, match="Cannot push the card to 'org/m' on .*HTTP 500 after 1 attempt"):
        hub_call(lambda: writer.create_commit("org/m", [CommitOperationAdd("README.md", b"x")], commit_message="m"),
                 repo_id="org/m", what="the card", endpoint=hub.url, retry=NO_RETRY, write=True)
    with pytest.raises(RepoNotFoundError, match="Cannot push the card to 'org/nope'"):
        hub_call(lambda: writer.create_commit("org/nope", [CommitOperationAdd("README.md", b"x")],
                                              commit_message="m"),
                 repo_id="org/nope", what="the card", retry=Retry(max_retries=2, backoff_s=0.01), write=True)
    assert hub.server.commits == []


def test_invalid_repo_id_is_refused_before_any_request(hub):
    with pytest.raises(InvalidRepoIdError, match="'not a repo'"):
        _client(hub).resolve("not a repo")
    assert hub.server.requests == []


def test_model_card_text(hub):
    hub.add_model("org/m", "---\nbase_model: org/x\n---\n# Hello\n")
    hub.add_model("org/no-readme")
    client = _client(hub)
    assert client.model_card_text("org/m").endswith("# Hello\n")
    assert client.model_card_text("org/no-readme") == ""


def test_list_models_and_a_pull_request_reach_the_loopback_hub(hub):
    """The server side other commands rely on: list_models filters and create_commit(create_pr=True)."""
    hub.add_model("org/a", "---\nbase_model: org/base\n---\n", tags=["base_model:org/base"])
    hub.add_model("org/b", tags=["other"])
    assert [m.id for m in hub.api.list_models(filter="base_model:org/base")] == ["org/a"]
    client = HubClient(HfApi(endpoint=hub.url, token="hf_writer"), backoff_s=0.01)
    card = "---\nbase_model: org/base\n---\n# org/a\n\nPredicted scores: ...\n"
    info = client.api.create_commit("org/a", [CommitOperationAdd("README.md", card.encode())],
                                    commit_message="Add predicted scores", create_pr=True)
    assert info.pr_url is not None and info.pr_url.endswith("/org/a/discussions/1")
    commit = hub.server.commits[-1]
    assert (commit.create_pr, commit.revision, commit.summary) == (True, "main", "Add predicted scores")
    assert commit.files == {"README.md": card.encode()}
    assert HfApi(endpoint=hub.url, token=False).model_info("org/a").card_data.base_model == "org/base"
