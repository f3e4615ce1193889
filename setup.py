from setuptools import find_packages, setup

# tools/*.py installed as the package paddle_attn_tools, each one's main() a command (python tools/x.py still works)
TOOLS = ("train", "eval", "infer", "export", "visualize", "summary", "compare", "convert_torch", "plot_curves")
COMMANDS = [f"paddle-attn-{tool.replace('_', '-')} = paddle_attn_tools.{tool}:main" for tool in TOOLS]

setup(
    name="paddle_attn",
    version="0.1.0",
    description="CNN attention blocks (SE, ECA, CBAM, NAM, PSA) and attention ResNets for PaddlePaddle",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["paddle_attn", "paddle_attn.*"]) + ["paddle_attn_tools"],
    package_dir={"paddle_attn_tools": "tools"},
    # what the installed package reads as files: the built-in configs (-c NAME) and the oneDNN operator's C++ source
    package_data={"paddle_attn": ["configs/*.yaml"], "paddle_attn.kernels.onednn": ["*.cc"]},
    entry_points={"console_scripts": COMMANDS},
    python_requires=">=3.9",
    # PaddlePaddle is an extra: CPU users take `.[cpu]`, GPU users install paddlepaddle-gpu by Paddle's guide
    install_requires=["numpy", "pyyaml", "visualdl>=2.5", "pillow", "matplotlib", "safetensors>=0.4"],
    extras_require={
        "cpu": ["paddlepaddle>=3.0"],
        "torch": ["torch>=2.0"],
        # paddle2onnx reads Paddle's PIR programs through Paddle's own C++: 2.1.0 is tested with Paddle 3.3.1
        "onnx": ["paddle2onnx==2.1.0", "onnxruntime>=1.20", "ml_dtypes"],  # ml_dtypes: onnxruntime.quantization (int8)
        "openvino": ["openvino>=2025.0"],
        "int8": ["nncf>=3.4"],  # OpenVINO's quantizer: the second int8 recipe (the first is onnxruntime's)
        # what builds and executes docs/tutorials' notebooks (tests/test_tutorials.py); opening them needs jupyterlab
        "notebooks": ["nbformat>=5.9", "nbclient>=0.10", "ipykernel>=6.20", "matplotlib"],
        "test": ["pytest", "hypothesis", "ruff>=0.6", "mypy>=1.10"],  # ruff and mypy: the checks .ci/run runs first
    },
)
