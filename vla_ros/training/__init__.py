"""Demonstrations from the embedded sim's scripted expert, a small VLA trained on them, and its export."""
