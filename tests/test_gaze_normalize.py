"""Data normalisation (pano.gaze.normalize) against hand-computed rotations, scalings and warps."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch

from pano.errors import ParameterError, ShapeError
from pano.gaze.normalize import (
    NormalisationParams,
    head_direction,
    head_rotation_from_rotvec,
    normalisation_transform,
    normalise_gaze,
    normalise_head,
    normalising_rotation,
    scaling_matrix,
    virtual_camera_matrix,
    warp_images,
    warp_uint8_hwc,
)

EYE = torch.eye(3, dtype=torch.float64).unsqueeze(0)
CAM = torch.tensor(
    [[1000.0, 0.0, 640.0], [0.0, 1000.0, 360.0], [0.0, 0.0, 1.0]], dtype=torch.float64
)


def t(rows) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float64)


def test_on_axis_identity_head_gives_identity_and_keeps_gaze():
    fc = t([[0.0, 0.0, 600.0]])
    tr = normalisation_transform(fc, EYE, CAM)
    torch.testing.assert_close(tr.rmat, EYE)
    torch.testing.assert_close(tr.smat, EYE)  # already at 600 mm
    gaze = t([[0.3, -0.2, -0.9]])
    out = normalise_gaze(gaze, tr.rmat)
    torch.testing.assert_close(out, gaze / gaze.norm())
    # W = C_norm C_cam^-1: the principal point (640, 360) goes to (112, 112).
    p = tr.warp[0] @ t([640.0, 360.0, 1.0])
    torch.testing.assert_close(p[:2] / p[2], t([112.0, 112.0]))


def test_off_axis_face_centre_hand_computed():
    # fc = (300, 0, 400) mm, |fc| = 500: z = (0.6, 0, 0.8); head x = (1, 0, 0) made orthogonal:
    # (1, 0, 0) - 0.6 z = (0.64, 0, -0.48), / 0.8 = (0.8, 0, -0.6); y = z x x = (0, 1, 0).
    fc = t([[300.0, 0.0, 400.0]])
    r = normalising_rotation(fc, EYE)
    torch.testing.assert_close(r[0], t([[0.8, 0.0, -0.6], [0.0, 1.0, 0.0], [0.6, 0.0, 0.8]]))
    torch.testing.assert_close(r[0] @ fc[0], t([0.0, 0.0, 500.0]))
    s = scaling_matrix(fc, NormalisationParams())
    torch.testing.assert_close(s[0], torch.diag(t([1.0, 1.0, 1.2])))
    # A gaze back at the real camera (-fc) looks into the normalised camera: (0, 0, -1).
    torch.testing.assert_close(normalise_gaze(-fc, r), t([[0.0, 0.0, -1.0]]))
    # A gaze along +x of the real camera: R (1, 0, 0) = (0.8, 0, 0.6).
    torch.testing.assert_close(normalise_gaze(t([[2.0, 0.0, 0.0]]), r), t([[0.8, 0.0, 0.6]]))


def test_known_head_roll_is_removed():
    # Head rolled 30 degrees about the optical axis (rotation vector (0, 0, pi/6) rad), face on
    # the axis: x_head = (cos 30, sin 30, 0); R rows x = (c, s, 0), y = z x x = (-s, c, 0), z.
    c, s = math.cos(math.pi / 6), math.sin(math.pi / 6)
    hrot = head_rotation_from_rotvec(t([[0.0, 0.0, math.pi / 6]]))
    torch.testing.assert_close(hrot[0], t([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]))
    r = normalising_rotation(t([[0.0, 0.0, 450.0]]), hrot)
    torch.testing.assert_close(r[0], t([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]]))
    torch.testing.assert_close(normalise_head(hrot, r), EYE)  # the roll is gone
    torch.testing.assert_close(normalise_gaze(t([[1.0, 0.0, 0.0]]), r), t([[c, -s, 0.0]]))


def test_known_head_yaw_is_kept():
    # Yaw of 20 degrees about the camera's y axis with the face on the axis: the head's x axis
    # (cos a, 0, -sin a) projects onto (1, 0, 0), so R = I and the head keeps its yaw.
    a = math.radians(20.0)
    hrot = head_rotation_from_rotvec(t([[0.0, a, 0.0]]))
    r = normalising_rotation(t([[0.0, 0.0, 700.0]]), hrot)
    torch.testing.assert_close(r, EYE)
    torch.testing.assert_close(normalise_head(hrot, r), hrot)
    # The face points to -z_head = (-sin a, 0, -cos a): GazeHub yaw = atan2(-x, -z) = +a.
    torch.testing.assert_close(head_direction(hrot), t([[-math.sin(a), 0.0, -math.cos(a)]]))


def test_scaling_moves_every_face_centre_to_600_mm():
    fc = t([[120.0, -80.0, 520.0], [-200.0, 40.0, 900.0], [0.0, 0.0, 300.0]])
    hrot = head_rotation_from_rotvec(t([[0.1, -0.2, 0.05], [0.0, 0.3, 0.0], [0.2, 0.0, 0.0]]))
    tr = normalisation_transform(fc, hrot, CAM)
    moved = (tr.smat @ tr.rmat @ fc.unsqueeze(-1)).squeeze(-1)
    torch.testing.assert_close(moved, t([[0.0, 0.0, 600.0]] * 3))
    # Every R is a proper rotation.
    torch.testing.assert_close(tr.rmat @ tr.rmat.transpose(1, 2), EYE.expand(3, 3, 3))
    torch.testing.assert_close(torch.linalg.det(tr.rmat), t([1.0, 1.0, 1.0]))
    # ... and the face centre lands on the normalised principal point (112, 112).
    p = tr.warp @ (CAM @ fc.unsqueeze(-1))
    torch.testing.assert_close((p[:, :2, 0] / p[:, 2:, 0]), t([[112.0, 112.0]] * 3))


def _dot_image(uv: np.ndarray, shape=(720, 1280), sigma=2.0) -> np.ndarray:
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    img = 250.0 * np.exp(-((xx - uv[0]) ** 2 + (yy - uv[1]) ** 2) / (2 * sigma**2))
    return img


def _centroid(img: np.ndarray) -> np.ndarray:
    yy, xx = np.mgrid[0 : img.shape[0], 0 : img.shape[1]]
    w = img / img.sum()
    return np.array([(xx * w).sum(), (yy * w).sum()])


def test_warped_dot_lands_where_the_virtual_camera_projects_it():
    # A 3-D point near the face; draw it where the real camera sees it, warp, and find it where
    # the virtual camera C_norm S R projects it.
    fc = t([[60.0, -40.0, 800.0]])
    hrot = head_rotation_from_rotvec(t([[0.15, -0.3, 0.1]]))
    point = fc[0] + t([12.0, 8.0, -5.0])
    uv = (CAM @ point).numpy()
    uv = uv[:2] / uv[2]
    img = torch.from_numpy(_dot_image(uv)).float()[None, None]
    tr = normalisation_transform(fc, hrot, CAM)
    out = warp_images(img, tr.warp)
    assert out.shape == (1, 1, 224, 224)
    expect = (tr.camera_norm[0] @ tr.smat[0] @ tr.rmat[0] @ point).numpy()
    expect = expect[:2] / expect[2]
    got = _centroid(out[0, 0].numpy().astype(np.float64))
    # The dot is magnified by 800 / 600 * 960 / 1000 = 1.28 (sigma ~2.6 px); centroid to 0.05 px.
    np.testing.assert_allclose(got, expect, atol=0.05)
    assert 0 < expect[0] < 224 and 0 < expect[1] < 224


def test_kornia_warp_agrees_with_opencv():
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, size=(2, 240, 320, 3), dtype=np.uint8)
    img = cv2.GaussianBlur(img.reshape(480, 320, 3), (7, 7), 2.0).reshape(2, 240, 320, 3)
    cam = t([[400.0, 0.0, 160.0], [0.0, 400.0, 120.0], [0.0, 0.0, 1.0]])
    fc = t([[10.0, 5.0, 500.0], [-30.0, 20.0, 650.0]])
    hrot = head_rotation_from_rotvec(t([[0.1, 0.2, -0.1], [-0.1, 0.0, 0.2]]))
    params = NormalisationParams(focal_px=400.0, width_px=96, height_px=64)
    tr = normalisation_transform(fc, hrot, cam, params)
    ours = warp_uint8_hwc(torch.from_numpy(img), tr.warp, params).numpy()
    assert ours.shape == (2, 64, 96, 3) and ours.dtype == np.uint8
    for i in range(2):
        ref = cv2.warpPerspective(img[i], tr.warp[i].numpy(), (96, 64), flags=cv2.INTER_LINEAR)
        diff = np.abs(ours[i].astype(int) - ref.astype(int))
        # OpenCV interpolates with 5-bit fixed-point weights; interior pixels agree within 2.
        assert diff[2:-2, 2:-2].max() <= 2, diff.max()


def test_virtual_camera_and_params():
    k = virtual_camera_matrix(NormalisationParams())
    torch.testing.assert_close(k, t([[960.0, 0.0, 112.0], [0.0, 960.0, 112.0], [0.0, 0.0, 1.0]]))
    assert "600 mm" in NormalisationParams().describe()
    with pytest.raises(ValueError):
        NormalisationParams(distance_mm=0.0)


def test_bad_shapes_and_degenerate_inputs():
    with pytest.raises(ShapeError):
        normalising_rotation(t([0.0, 0.0, 1.0]), EYE)
    with pytest.raises(ParameterError, match="face centre"):
        normalising_rotation(t([[0.0, 0.0, 0.0]]), EYE)
    # Head x axis along the face-centre direction: roll undefined.
    with pytest.raises(ParameterError, match="x axis"):
        normalising_rotation(t([[500.0, 0.0, 0.0]]), EYE)
    with pytest.raises(ParameterError, match="zero length"):
        normalise_gaze(t([[0.0, 0.0, 0.0]]), EYE)


def test_cropped_uint8_warp_equals_whole_image_warp():
    # warp_uint8_hwc warps only the box each face samples; it must equal warping the whole
    # image, also for a face at the image border (part of the crop falls outside the image).
    rng = np.random.default_rng(5)
    img = rng.integers(0, 256, size=(3, 240, 320, 3), dtype=np.uint8)
    cam = t([[400.0, 0.0, 160.0], [0.0, 400.0, 120.0], [0.0, 0.0, 1.0]])
    fc = t([[0.0, 0.0, 500.0], [190.0, -140.0, 500.0], [-40.0, 30.0, 900.0]])
    hrot = head_rotation_from_rotvec(t([[0.0, 0.0, 0.0], [0.1, 0.3, -0.2], [-0.2, 0.1, 0.4]]))
    params = NormalisationParams(focal_px=400.0, width_px=80, height_px=60)
    tr = normalisation_transform(fc, hrot, cam, params)
    ours = warp_uint8_hwc(torch.from_numpy(img), tr.warp, params)
    whole = warp_images(torch.from_numpy(img).permute(0, 3, 1, 2).float(), tr.warp, params)
    whole8 = whole.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1)
    assert (whole8[1] == 0).any()  # the border face really samples outside the image
    diff = (ours.int() - whole8.int()).abs()
    assert int(diff.max()) <= 1  # float rounding of shifted coordinates only
    assert float((diff > 0).float().mean()) < 0.01
