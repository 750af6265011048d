"""The evaluation layer: protocols as plain functions on arrays, and mmengine metrics wrapping them."""
