"""RTS: spec, NumPy tracker (`tracker`, `geometry`, `host`), torch export side (`export/`),
demo-weight training (`training/`), demo weights, model card and NOTES."""
