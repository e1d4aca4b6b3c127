"""The memory planner, checked against liveness computed here step by step from the graph."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graph_zoo import zoo
from tinyedge.ir import Graph
from tinyedge.plan import plan_memory


def alive_per_step(graph: Graph) -> list[set[str]]:
    """The activations alive at each op step, straight from the definition in the planner's spec."""
    steps = max(len(graph.nodes), 1)
    birth = {name: 0 for name in graph.inputs}
    last_use = {name: 0 for name in graph.inputs}
    for s, node in enumerate(graph.nodes):
        for name in node.outputs:
            birth.setdefault(name, s)
            last_use[name] = max(last_use.get(name, s), s)
        for name in node.inputs:
            if not graph.tensors[name].is_const:
                last_use[name] = s
    for name in graph.outputs:
        last_use[name] = steps - 1
    return [{t for t in birth if birth[t] <= s <= last_use[t]} for s in range(steps)]


def check_plan(graph: Graph, alignment: int = 64) -> None:
    plan = plan_memory(graph, alignment)
    activations = [t for t in graph.tensors if not graph.tensors[t].is_const]
    assert set(plan.offsets) == set(activations)
    size = {t: graph.tensors[t].nbytes for t in activations}
    for t, off in plan.offsets.items():
        assert off % alignment == 0, (t, off)
        assert off + size[t] <= plan.arena_size
    alive = alive_per_step(graph)
    for step, names in enumerate(alive):
        ranges = sorted((plan.offsets[t], plan.offsets[t] + size[t], t) for t in names)
        for (_, end, a), (start, _, b) in zip(ranges, ranges[1:]):
            assert end <= start, f"step {step}: '{a}' and '{b}' are alive together and overlap"
    bound = max(sum(size[t] for t in names) for names in alive)
    assert plan.lower_bound == bound
    assert plan.arena_size >= plan.lower_bound
    assert plan.activations_total == sum(size.values())
    for t, (lo, hi) in plan.lifetimes.items():
        assert {s for s, names in enumerate(alive) if t in names} == set(range(lo, hi + 1))
    assert plan == plan_memory(graph, alignment), "the plan is not deterministic"


@st.composite
def random_dags(draw) -> Graph:
    """A DAG of elementwise and concat ops over (1, H, W, C) activations with varying C."""
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    h, w = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    g = Graph()
    acts = [g.add_input(f"in{i}", (1, h, w, draw(st.integers(1, 9))))
            for i in range(draw(st.integers(1, 3)))]
    for k in range(draw(st.integers(1, 24))):
        kind = draw(st.sampled_from(["unary", "binary", "concat"]))
        a = draw(st.sampled_from(acts))
        c = g.tensors[a].shape[-1]
        if kind == "unary":
            out = g.add_node(draw(st.sampled_from(["sigmoid", "tanh", "clip", "hard_swish"])), [a])
        elif kind == "binary":
            same = [t for t in acts if g.tensors[t].shape[-1] == c]
            b = draw(st.sampled_from(same + ["const"]))
            if b == "const":
                b = g.add_const(f"k{k}", rng.standard_normal(c).astype(np.float32))
            out = g.add_node(draw(st.sampled_from(["add", "mul", "sub", "prelu"])), [a, b])
        else:
            parts = draw(st.lists(st.sampled_from(acts), min_size=1, max_size=3))
            out = g.add_node("concat", parts, {"axis": 3})
        acts += out
    extra = draw(st.lists(st.sampled_from(acts), max_size=3))
    g.outputs = list(dict.fromkeys([acts[-1]] + extra))
    return g


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_dags(), st.sampled_from([16, 64, 128]))
def test_random_dags_never_overlap_live_tensors(graph, alignment):
    check_plan(graph, alignment)


@pytest.mark.parametrize("name", sorted(zoo()))
def test_zoo_graphs(name):
    check_plan(zoo()[name])


def test_chain_reuses_two_buffers():
    g = Graph()
    (y,) = [g.add_input("x", (1, 16, 16, 8))]
    for _ in range(20):
        (y,) = g.add_node("sigmoid", [y])
    g.outputs = [y]
    plan = plan_memory(g)
    one = 16 * 16 * 8 * 4
    assert plan.activations_total == 21 * one
    assert plan.arena_size == plan.lower_bound == 2 * one
    check_plan(g)


def test_graph_input_lives_from_step_zero_and_outputs_to_the_end():
    g = Graph()
    x = g.add_input("x", (4, 4))
    late = g.add_input("late", (4, 4))
    (a,) = g.add_node("tanh", [x], name="a")
    (b,) = g.add_node("sigmoid", [a], name="b")
    (c,) = g.add_node("add", [b, late], name="c")
    g.outputs = [a, c]
    plan = plan_memory(g)
    assert plan.lifetimes == {"x": (0, 0), "late": (0, 2), "a": (0, 2), "b": (1, 2), "c": (2, 2)}
    check_plan(g)


def test_graph_without_ops():
    g = Graph()
    g.outputs = [g.add_input("x", (3,))]
    plan = plan_memory(g)
    assert plan.offsets == {"x": 0} and plan.arena_size == 64 and plan.lower_bound == 12


def test_alignment_must_be_a_power_of_two():
    g = Graph()
    g.outputs = [g.add_input("x", (3,))]
    with pytest.raises(ValueError, match="power of two"):
        plan_memory(g, alignment=48)
