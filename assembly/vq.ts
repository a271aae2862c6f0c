// placeholder module, filled by its kernel family
