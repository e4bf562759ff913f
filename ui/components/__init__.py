"""Custom NiceGUI elements of the Flowgate UI."""
