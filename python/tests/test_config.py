"""moerouter.Config, presets and their validation."""
import pickle

import pytest

import moerouter


def test_presets_are_the_design_table():
    assert moerouter.presets() == ["dsv4-flash", "dsv4-pro", "dsv4.1-flash", "dsv3", "qwen3-moe",
                                   "mixtral"]
    pro = moerouter.preset("dsv4-pro")
    assert (pro.hidden, pro.experts, pro.top_k, pro.score, pro.scale) == (7168, 384, 6, "sqrtsoftplus", 2.5)
    v3 = moerouter.preset("dsv3")
    assert (v3.groups, v3.topk_groups, v3.score, v3.top_k) == (8, 4, "sigmoid", 8)
    assert moerouter.preset("mixtral").gemm == "canonical"


def test_config_fields_and_defaults():
    c = moerouter.Config(hidden=64, experts=16, top_k=2, score="softmax")
    assert (c.groups, c.topk_groups, c.renormalize, c.scale, c.gemm) == (1, 1, True, 1.0, "canonical")
    assert c.to_dict()["score"] == "softmax"
    assert moerouter.Config(**c.to_dict()) == c


def test_config_is_immutable_value():
    c = moerouter.preset("dsv3")
    with pytest.raises(AttributeError):
        c.top_k = 3
    d = c.replace(gemm="fp32", scale=1.0)
    assert (d.gemm, d.scale, c.gemm) == ("fp32", 1.0, "canonical")
    assert c == moerouter.preset("dsv3") and c != d
    assert len({c, moerouter.preset("dsv3"), d}) == 2
    assert pickle.loads(pickle.dumps(d)) == d
    assert eval(repr(d), {"moerouter": moerouter}) == d


def test_keyword_only():
    with pytest.raises(TypeError):
        moerouter.Config(64, 16, 2, "softmax")


@pytest.mark.parametrize("fields, named", [
    (dict(hidden=64, experts=16, top_k=17, score="softmax"), "top_k"),
    (dict(hidden=64, experts=2000, top_k=2, score="softmax"), "experts"),
    (dict(hidden=0, experts=16, top_k=2, score="softmax"), "hidden"),
    (dict(hidden=64, experts=16, top_k=2, score="softmax", groups=3), "groups"),
    (dict(hidden=64, experts=16, top_k=2, score="relu"), "score"),
    (dict(hidden=64, experts=16, top_k=2, score="softmax", gemm="fp8"), "gemm"),
    (dict(hidden=64, experts=16, top_k=2, score="softmax", scale=float("inf")), "scale"),
])
def test_invalid_config_names_the_field(fields, named):
    with pytest.raises(moerouter.Error) as e:
        moerouter.Config(**fields)
    assert e.value.code == "invalid_argument"
    assert named in str(e.value)


def test_unknown_preset_lists_known_ones():
    with pytest.raises(moerouter.Error, match="dsv4-flash") as e:
        moerouter.preset("gpt-moe")
    assert e.value.code == "invalid_argument"


def test_replace_rejects_unknown_field():
    with pytest.raises(moerouter.Error, match="top_kk"):
        moerouter.preset("dsv3").replace(top_kk=2)
