"""OceanPlus (ARN): spec, NumPy tracker (`tracker`), torch export side (`export/`), demo-weight
training (`training/`), demo weights, model card and NOTES."""
