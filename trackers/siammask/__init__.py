"""SiamMask (sharp): spec, NumPy tracker (`tracker`), torch export side (`export/`), demo-weight
training (`training/`), demo weights and model card."""
