import numpy as np
import pytest

from tests.unit.privacy_data import embedding, secret
from watchlist_screening.privacy import face_template


def _cos(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def test_rotation_preserves_cosine():
    key = secret()
    rng = np.random.default_rng(7)
    for _ in range(20):
        a = rng.standard_normal(128) * rng.uniform(0.1, 10)
        b = a + rng.standard_normal(128) * rng.uniform(0.0, 2.0)
        ta, tb = face_template.template(a, key), face_template.template(b, key)
        assert abs(_cos(ta, tb) - _cos(a, b)) < 1e-5
        assert np.linalg.norm(ta) == pytest.approx(1.0, abs=1e-6)


def test_rotation_is_orthogonal_and_keyed():
    key = secret()
    q = face_template.rotation(key)
    assert np.allclose(q @ q.T, np.eye(128), atol=1e-10)
    assert not np.allclose(q, face_template.rotation(secret()))
    assert np.array_equal(q, face_template.rotation(bytes(key)))


def test_template_hides_the_raw_vector():
    raw = np.asarray(embedding(3))
    t = np.asarray(face_template.template(raw, secret()))
    assert abs(_cos(raw, t)) < 0.4   # not the raw direction


def test_templates_under_two_keys_do_not_compare():
    raw = embedding(4)
    assert abs(_cos(face_template.template(raw, secret()), face_template.template(raw, secret()))) < 0.4


@pytest.mark.parametrize("bad, message", [([0.0] * 128, "all zeros"), ([1.0] * 127, "128 numbers"),
                                          ([float("nan")] + [1.0] * 127, "not finite")])
def test_bad_embeddings_are_refused(bad, message):
    with pytest.raises(face_template.FaceTemplateError, match=message):
        face_template.template(bad, secret())


def test_128_known_pairs_recover_the_rotation_as_documented():
    """docs/privacy.md: a linear map is recoverable from ~128 known (raw, template) pairs.
    This keeps that statement true (and warns if a change made it false)."""
    key = secret()
    rng = np.random.default_rng(11)
    raw = rng.standard_normal((128, 128))
    raw /= np.linalg.norm(raw, axis=1, keepdims=True)
    templates = np.array([face_template.template(r, key) for r in raw])
    u, _, vt = np.linalg.svd(templates.T @ raw)   # orthogonal Procrustes
    recovered = u @ vt
    assert np.allclose(recovered, face_template.rotation(key), atol=1e-5)
    victim = rng.standard_normal(128)
    victim /= np.linalg.norm(victim)
    assert np.allclose(recovered.T @ face_template.template(victim, key), victim, atol=1e-5)
