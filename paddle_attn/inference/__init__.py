"""Running exported networks: Paddle Inference, ONNX Runtime and OpenVINO backends, export writers."""
