"""tinyedge: compile ONNX models into flat .tem files and run them with a small C runtime."""
__version__ = "0.1.0"
