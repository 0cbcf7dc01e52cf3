"""A preset name or a Config -> a Config."""
from ._errors import error
from ._moerouter import Config, preset


def as_config(config, name="config"):
    if isinstance(config, Config):
        return config
    if isinstance(config, str):
        return preset(config)
    raise error("invalid_argument",
                f"{name}: expected a preset name (moerouter.presets()) or a moerouter.Config, "
                f"got {type(config).__name__}")
