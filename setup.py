import os

from setuptools import find_packages, setup

# every module of paddle_attn/cli/ but the private ones (_shared) is a tool: paddle_attn/cli/x_y.py -> paddle-attn-x-y
HERE = os.path.dirname(os.path.abspath(__file__))
CLI = os.path.join(HERE, "paddle_attn", "cli")
COMMANDS = [
    f"paddle-attn-{name[:-3].replace('_', '-')} = paddle_attn.cli.{name[:-3]}:main"
    for name in sorted(os.listdir(CLI))
    if name.endswith(".py") and not name.startswith("_")
]

setup(
    name="paddle_attn",
    version="0.1.0",
    description="CNN attention blocks (SE, ECA, CBAM, NAM, PSA) and attention ResNets for PaddlePaddle",
    long_description=open(os.path.join(HERE, "README.md"), encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["paddle_attn", "paddle_attn.*"]),
    # what the installed package reads as files: the built-in configs (-c NAME) and the oneDNN operator's C++ source
    package_data={"paddle_attn": ["configs/*.yaml"], "paddle_attn.kernels.onednn": ["*.cc", "*.h"]},
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
        # ruff and mypy: the checks .ci/run runs first; setuptools builds the wheel tests/test_wheel_install.py installs
        "test": ["pytest", "pytest-xdist>=3.5", "hypothesis", "ruff>=0.6", "mypy>=1.10", "setuptools>=70.1"],
    },
)
