"""Put chosen convolutions of a QDQ int8 graph back in fp32, without calibrating again: each one's weight and bias,
and the activations it reads and writes, bypass their Quantize/DequantizeLinear nodes, for every node that reads
those activations (ONNX Runtime quantizes a convolution's output too, and the ReLU or addition after it reads that)."""

import copy

from onnx import numpy_helper

QDQ = ("QuantizeLinear", "DequantizeLinear")


def _rewire(graph, old, new):
    for node in graph.node:
        node.input[:] = [new if name == old else name for name in node.input]


def _activation_source(name, producers):
    """The fp32 activation at the start of the Quantize/DequantizeLinear chain that ends at `name`."""
    node = producers.get(name)
    while node is not None and node.op_type in QDQ:
        name = node.input[0]
        node = producers.get(name)
    return name


def _tensors(graph):
    """{name: array} of a graph's initializers and Constant nodes."""
    found = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            found[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    return found


def with_fp32_convs(int8_model, source_model, convs):
    """A copy of `int8_model` whose Conv nodes named in `convs` compute in fp32 again; `source_model` is the fp32
    graph the recipe quantized (it holds the weights that were stored in int8)."""
    model = copy.deepcopy(int8_model)
    graph = model.graph
    producers = {output: node for node in graph.node for output in node.output}
    source_convs = {node.name: node for node in source_model.graph.node if node.op_type == "Conv"}
    source_tensors = _tensors(source_model.graph)
    wanted = set(convs)
    for conv in [node for node in graph.node if node.op_type == "Conv" and node.name in wanted & set(source_convs)]:
        wanted.discard(conv.name)
        _rewire(graph, conv.input[0], _activation_source(conv.input[0], producers))
        # weight and bias from the fp32 graph: ONNX Runtime stores them quantized, NNCF's bias correction shifts the
        # bias to make up for the int8 weight
        fp32_inputs = []
        for index, name in enumerate(source_convs[conv.name].input[1:], start=1):
            fp32_inputs.append(f"{conv.name}.fp32.{index}")
            graph.initializer.append(numpy_helper.from_array(source_tensors[name], fp32_inputs[-1]))
        conv.input[1:] = fp32_inputs
        quantizers = [n for n in graph.node if n.op_type == "QuantizeLinear" and n.input[0] == conv.output[0]]
        for dequantizer in (n for n in graph.node if n.op_type == "DequantizeLinear"):
            if any(dequantizer.input[0] == q.output[0] for q in quantizers):
                _rewire(graph, dequantizer.output[0], conv.output[0])
    if wanted:
        raise ValueError(f"no convolutions {sorted(wanted)} in the int8 graph")
    return model
