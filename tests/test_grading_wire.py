"""What crosses from a student's kernel to the grader: inert values, and withheld references."""

from __future__ import annotations

import ast
import json
import socket
import struct
from pathlib import Path

import numpy as np
import pytest

from course_lib import channel, gradcheck, layers, wire
from course_lib.grading.withhold import Referee, stripped_copy


def test_values_cross_intact():
    value = {"W1": np.arange(6.0).reshape(2, 3), "n": 3, "big": 2**80, "ok": True,
             "pair": (np.float64(0.5), [np.int32(7), None, "text"]), "nan": float("nan"),
             "0-d": np.array(2.5), "empty": np.zeros((0, 3)), "strided": np.arange(12.0)[::3],
             "fortran": np.asfortranarray(np.arange(6).reshape(2, 3))}
    back = wire.loads(wire.dumps(value))
    assert back.keys() == value.keys()
    assert back["W1"].dtype == np.float64 and np.array_equal(back["W1"], value["W1"])
    assert back["n"] == 3 and back["big"] == 2**80 and back["ok"] is True
    assert isinstance(back["pair"], tuple) and type(back["pair"][0]) is np.float64
    assert back["pair"][0] == 0.5 and back["0-d"].shape == () and back["0-d"] == 2.5
    assert back["empty"].shape == (0, 3) and np.array_equal(back["strided"], [0.0, 3.0, 6.0, 9.0])
    assert np.array_equal(back["fortran"], value["fortran"])
    assert back["pair"][1][0].dtype == np.int32 and back["pair"][1][1:] == [None, "text"]
    assert np.isnan(back["nan"])


def test_other_objects_cross_as_their_type_name_only():
    back = wire.loads(wire.dumps([iter([1]), np.array([object()])]))
    assert back == [wire.Opaque("list_iterator"), wire.Opaque("ndarray")]


def _message(tree, arrays=(), body=b"") -> bytes:
    """A message as a hostile kernel could write it: any header, any bytes after it."""
    header = json.dumps({"tree": tree, "arrays": list(arrays)}).encode()
    return wire.MAGIC + struct.pack("!Q", len(header)) + header + body


def test_an_object_array_is_never_built():
    """Object arrays are what could run code (pickles): no dtype but plain numbers is read."""
    for dtype in ["|O", "O", "|V8", "<U4", "(2,)<f8", "<M8[s]", "<u0"]:
        with pytest.raises(wire.WireError, match="plain numbers|unknown dtype"):
            wire.loads(_message({"t": "array", "v": 0}, [[dtype, [1]]], b"\0" * 16))


@pytest.mark.parametrize("data", [
    b"not a values message at all",
    wire.MAGIC + struct.pack("!Q", 10**9) + b"{}",  # a header longer than the message
    _message({"t": "array", "v": 5}),  # an array that is not there
    _message({"t": "exec", "v": "import os"}),
    _message([] , [["<f8", [2]]], b"\0" * 8),  # fewer bytes than the shape needs
    _message([], [["<f8", [1]]], b"\0" * 9),  # bytes left over
    _message([], [["<f8", [-1]]]),
    _message([], [["<f8", [2**40, 2**40]]]),  # an enormous shape claimed
    _message("[" * 5000),  # a tree that is not a value
    wire.MAGIC + struct.pack("!Q", 10_000) + b"[" * 5000 + b"]" * 5000,
])
def test_malformed_messages_are_refused_in_plain_words(data):
    with pytest.raises(wire.WireError):
        wire.loads(data)


def test_size_limits_hold_before_reading():
    with pytest.raises(wire.WireError, match="limit"):
        wire.loads(wire.dumps(np.zeros(1000)), max_bytes=100)
    # a header is parsed into Python objects: a big one is refused before it is parsed
    header = b"[" + b"[]," * 1_000_000 + b"[]]"
    with pytest.raises(wire.WireError, match="header of"):
        wire.loads(wire.MAGIC + struct.pack("!Q", len(header)) + header)


def test_arrays_arrive_writable_and_in_their_own_memory():
    """A reference may change an argument in place (numerical_gradient nudges x)."""
    a, b = wire.loads(wire.dumps([np.arange(3.0), np.ones((2, 2), dtype=np.float32)]))
    a[0] = 7.0
    assert a.flags.writeable and b.dtype == np.float32 and b.shape == (2, 2)
    assert np.array_equal(a, [7.0, 1.0, 2.0]) and np.array_equal(b, np.ones((2, 2)))


def _top_level(path, name):
    return next(node for node in ast.parse(path.read_text()).body
                if getattr(node, "name", None) == name)


def test_the_stripped_library_keeps_signatures_but_not_the_code(tmp_path):
    package = stripped_copy(tmp_path, ["relu", "dense_forward", "Adam"])
    relu = ast.unparse(_top_level(package / "activations.py", "relu"))
    assert "np.maximum" not in relu and "_nncourse_reference" in relu
    dense = _top_level(package / "layers.py", "dense_forward")
    original = _top_level(Path(layers.__file__), "dense_forward")
    assert ast.unparse(dense.args) == ast.unparse(original.args)
    # what the assignment does not withhold is left as it was
    assert "_nncourse_reference" not in ast.unparse(_top_level(package / "activations.py",
                                                               "relu_grad"))
    adam = _top_level(package / "optim.py", "Adam")
    methods = [node.name for node in adam.body if isinstance(node, ast.FunctionDef)]
    assert methods == ["__init__"] and "withheld" in ast.unparse(adam)


@pytest.fixture
def referee(tmp_path, monkeypatch):
    server = Referee(tmp_path / "ref.sock",
                     ["relu", "mlp_forward", "dense_forward", "numerical_gradient",
                      "gradient_check"])
    monkeypatch.setenv(channel.VARIABLE, str(server.path))
    monkeypatch.setattr(channel, "_connection", None)
    yield server
    server.close()
    monkeypatch.setattr(channel, "_connection", None)


def test_the_referee_answers_with_the_real_reference(referee):
    referee.testing({"mlp_forward"})  # which builds on dense_forward
    X, W, b = np.arange(6.0).reshape(2, 3), np.ones((4, 3)), np.arange(4.0)
    got = channel.call("course_lib.layers.dense_forward", (X, W, b), {})
    assert np.array_equal(got[0], layers.dense_forward(X, W, b)[0])
    with pytest.raises(ValueError, match="shape"):  # the reference's refusal comes back as is
        channel.call("course_lib.layers.dense_forward",
                     (np.ones((2, 3)), np.ones((4, 2)), np.ones(4)), {})


def test_a_test_may_reach_what_its_exercise_builds_on_and_nothing_else(referee):
    X, W, b = np.ones((2, 3)), np.ones((4, 3)), np.zeros(4)
    referee.testing({"mlp_forward"})  # mlp_forward depends on dense_forward
    channel.call("course_lib.layers.dense_forward", (X, W, b), {})
    channel.call("course_lib.layers._check_dense", (X, W, b), {})  # what dense_forward reaches
    assert referee.done() == ([], [])
    referee.testing({"mlp_forward"})
    for name, args in [("course_lib.activations.relu", (X,)),
                       ("course_lib.network._check_params", (X, {"W1": W, "b1": b}))]:
        with pytest.raises(channel.ReferenceWithheld, match="while this exercise is tested"):
            channel.call(name, args, {})
    assert referee.done() == ([], ["course_lib.activations.relu",
                                   "course_lib.network._check_params"])
    referee.testing({"relu"})
    with pytest.raises(channel.ReferenceWithheld):
        channel.call("course_lib.activations.relu", (X,), {})
    assert referee.done()[1] == ["course_lib.activations.relu"]


def test_between_test_cells_nothing_is_answered_and_nothing_recorded(referee):
    """A solution cell cannot compute the reference's answers beforehand and look them up."""
    for name, args in [("course_lib.activations.relu", (np.ones(2),)),
                       ("course_lib.layers.dense_forward",
                        (np.ones((2, 3)), np.ones((4, 3)), np.zeros(4)))]:
        with pytest.raises(channel.ReferenceWithheld, match="must use its own code"):
            channel.call(name, args, {})
    with pytest.raises(channel.ReferenceWithheld, match="no test cell"):
        channel.result(channel.request({"op": "record", "record": {"kind": "check"}}))
    referee.testing({"relu"})
    channel.result(channel.request({"op": "record", "record": {"kind": "check"}}))
    assert referee.done() == ([{"kind": "check"}], [])
    assert referee.done() == ([], [])  # the window closed with the cell


def test_fresh_cases_are_given_only_to_the_hidden_check_of_their_exercise(referee, tmp_path):
    """Fetched during another test (whose reference window serves that exercise's
    reference, as mlp_forward's serves dense_forward), they could be answered by it."""
    ask = {"op": "cases", "exercise": "dense_forward"}
    referee.testing({"mlp_forward", "dense_forward"})  # a visible test, say, moved
    with pytest.raises(channel.ReferenceWithheld, match="no hidden test"):
        channel.result(channel.request(ask))
    referee.done()
    referee.testing({"dense_forward"}, hidden={"dense_forward"})
    assert channel.result(channel.request(ask)) == []  # this referee draws nothing
    referee.done()


def test_a_test_cell_cannot_send_more_records_than_the_grader_keeps(referee):
    referee.testing({"relu"})
    big = {"kind": "check", "outcomes": np.zeros(2**22)}  # 32 MiB: 3 fit in 128 MiB
    for _ in range(3):
        channel.result(channel.request({"op": "record", "record": big}))
    with pytest.raises(channel.ReferenceWithheld, match="too many records"):
        channel.result(channel.request({"op": "record", "record": big}))
    kept = 3
    for _ in range(100):
        try:
            channel.result(channel.request({"op": "record", "record": {"kind": "check"}}))
        except channel.ReferenceWithheld:
            break
        kept += 1
    records, _ = referee.done()
    assert len(records) == kept == 64


def test_the_referee_refuses_arguments_too_big_to_compute_on(referee):
    referee.testing({"mlp_forward"})
    X = np.zeros((2**11, 2**11 + 1))  # 4 Mi numbers: more than the grader computes on
    with pytest.raises(ValueError, match="more than the grader computes on"):
        channel.call("course_lib.layers.dense_forward", (X, np.ones((1, X.shape[1])),
                                                         np.zeros(1)), {})


def test_the_referee_survives_a_hostile_client(referee):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.connect(str(referee.path))
        conn.sendall(struct.pack("!i", -1) + struct.pack("!Q", 2**62))  # "4 EiB": refused unread
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.connect(str(referee.path))
        conn.sendall(struct.pack("!i", 100) + b"half")  # and then nothing
        with pytest.raises(channel.ReferenceWithheld, match="not served"):
            channel.call("os.system", ("true",), {})
    referee.testing({"mlp_forward"})
    assert channel.call("course_lib.layers.dense_forward", (np.ones((1, 1)), np.ones((1, 1)),
                                                            np.ones(1)), {})[0][0, 0] == 2.0


def test_a_reference_can_call_back_a_function_of_the_notebook(referee):
    """numerical_gradient(f, x) nudges x in the grader; f runs in the kernel and sees x nudged."""
    referee.testing({"gradient_check"})  # gradient_check builds on numerical_gradient
    model = {"W": np.array([[0.5, -1.0], [2.0, 0.25]])}
    calls = []

    def loss(_):  # reads W through the model, not through its argument
        calls.append(1)
        return float(np.sum(model["W"] ** 3))

    got = channel.call("course_lib.gradcheck.numerical_gradient",
                                 (loss, model["W"]), {})
    assert len(calls) == 8  # two per element, all run here
    assert np.allclose(got, 3 * model["W"] ** 2, rtol=1e-8)
    assert np.array_equal(model["W"], [[0.5, -1.0], [2.0, 0.25]])  # restored afterwards
    assert np.allclose(got, gradcheck.numerical_gradient(loss, model["W"]), rtol=1e-12)

    def broken(_):
        raise ZeroDivisionError("the notebook's loss failed")

    with pytest.raises(ZeroDivisionError, match="loss failed"):
        channel.call("course_lib.gradcheck.numerical_gradient",
                               (broken, model["W"]), {})
    assert np.array_equal(model["W"], [[0.5, -1.0], [2.0, 0.25]])
