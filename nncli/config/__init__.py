"""Experiment configs: the schema (every key, its type, default and meaning), safe YAML,
``key=value`` overrides, validation with every problem at once, and dumping.

    cfg = load_config("configs/digits.yaml", ["optimizer.lr=0.01"])
"""

from nncli.config.load import (
    MAX_CONFIG_BYTES,
    config_differences,
    config_hash,
    config_schema,
    config_to_dict,
    dump_config,
    load_config,
    parse_yaml,
    read_config_text,
)
from nncli.config.names import (
    ACTIVATION_NAMES,
    DATASET_NAMES,
    INIT_NAMES,
    LOSS_NAMES,
    OPTIMIZER_NAMES,
    OUTPUT_NAMES,
    SCHEDULE_NAMES,
)
from nncli.config.optimizers import OPTIMIZER_MODELS, SCHEDULE_MODELS
from nncli.config.overrides import apply_overrides, split_override
from nncli.config.schema import Config
from nncli.config.validate import validate

__all__ = ["MAX_CONFIG_BYTES", "config_differences", "config_hash", "config_schema", "config_to_dict", "dump_config", "load_config", "parse_yaml",
           "read_config_text", "apply_overrides", "split_override", "ACTIVATION_NAMES", "DATASET_NAMES",
           "INIT_NAMES", "LOSS_NAMES", "OPTIMIZER_MODELS", "OPTIMIZER_NAMES", "OUTPUT_NAMES", "SCHEDULE_MODELS",
           "SCHEDULE_NAMES", "Config", "validate"]
