"""Data normalisation for appearance-based gaze (Sugano 2014; Zhang, Sugano, Bulling ETRA 2018).

A *virtual* (normalised) camera is placed so that it looks straight at the face centre from a
fixed distance, with its x axis aligned with the head's x axis. Every face then appears at the
same distance, centred, without roll, whatever the real camera and head pose were; the gaze label
is rotated into that camera. This module computes, per sample and batched in torch:

* ``R`` (3 x 3, camera -> normalised camera rotation): rows ``x, y, z`` with
  ``z = fc / |fc|`` (towards the face centre), ``x`` = the head rotation's x axis (first column
  of ``R_head``) made orthogonal to ``z`` and normalised, ``y = z x x``;
* ``S = diag(1, 1, d_norm / |fc|)`` (dimensionless) - moves the face to ``d_norm`` mm;
* ``C_norm`` (3 x 3, px): the virtual camera ``[[f, 0, w/2], [0, f, h/2], [0, 0, 1]]``;
* ``W = C_norm S R C_cam^-1`` (3 x 3, px -> px): the perspective warp from the original image
  to the normalised face image (applied with kornia's ``warp_perspective``);
* the gaze rotated by ``R`` only (not scaled; ETRA 2018's "modified" normalisation) and the head
  rotation ``R @ R_head``.

Conventions:

* **Frames**: every 3-D vector is in OpenCV / GazeHub camera axes: ``x`` right, ``y`` down,
  ``z`` forward (out of the lens). MPIIFaceGaze's annotations (face centre, gaze target, head
  translation) are in that frame of the real camera, in **millimetres**; the normalised camera
  uses the same axes.
* **Head rotation** ``R_head`` maps face-model coordinates to camera coordinates (OpenCV
  ``solvePnP``; MPIIFaceGaze's 6-point model has x along the eye line, y down towards the mouth,
  z into the face). ``R_head = I`` is a frontal face looking into the camera; its z axis then
  points away from the camera, so the direction the face points to is ``-R_head[:, 2]``.
* **Rotation vectors** (axis-angle) are in **radians** (norm = angle, right-hand rule), converted
  by kornia (``axis_angle_to_rotation_matrix``).
* **Pixels**: integer coordinates are pixel centres (OpenCV's convention); kornia is called with
  ``align_corners=True``, which uses the same one, so a warp here equals
  ``cv2.warpPerspective`` with the same matrix up to interpolation rounding.
* **Lens distortion** is ignored (as GazeHub's ``data_processing_mpii.py`` does): the warp is a
  pure homography of the recorded image.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from kornia.geometry.conversions import axis_angle_to_rotation_matrix
from kornia.geometry.transform import warp_perspective
from pydantic import BaseModel, ConfigDict, Field

from pano.errors import ParameterError, ShapeError

#: Below this length (mm) the orthogonalised head x axis is taken as parallel to the face
#: centre direction (the rotation R is then undefined).
_DEGENERATE = 1e-9


class NormalisationParams(BaseModel):
    """The virtual camera of the normalisation (defaults: GazeHub's MPIIFaceGaze settings).

    Attributes:
        distance_mm: distance of the virtual camera from the face centre, millimetres.
        focal_px: focal length of the virtual camera, pixels (both axes).
        width_px, height_px: size of the normalised image, pixels; the principal point is
            ``(width_px / 2, height_px / 2)`` as in GazeHub.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    distance_mm: float = Field(600.0, gt=0)
    focal_px: float = Field(960.0, gt=0)
    width_px: int = Field(224, gt=0)
    height_px: int = Field(224, gt=0)

    def describe(self) -> str:
        """One line for provenance: distance, focal length and image size."""
        return (
            f"virtual camera at {self.distance_mm:g} mm, focal {self.focal_px:g} px, "
            f"{self.width_px}x{self.height_px} px"
        )


@dataclass(frozen=True)
class NormalisationTransform:
    """Per-sample matrices of the normalisation, ``(B, 3, 3)`` each, on one device.

    Attributes:
        rmat: ``R``, rotation original camera -> normalised camera (dimensionless).
        smat: ``S = diag(1, 1, d_norm / |fc|)`` (dimensionless).
        camera_norm: ``C_norm``, the virtual camera matrix (px).
        warp: ``W = C_norm S R C_cam^-1``, original image px -> normalised image px.
    """

    rmat: torch.Tensor
    smat: torch.Tensor
    camera_norm: torch.Tensor
    warp: torch.Tensor


def _vectors(x: torch.Tensor, name: str) -> torch.Tensor:
    if x.ndim != 2 or x.shape[1] != 3:
        raise ShapeError(f"{name} must be (B, 3), got {tuple(x.shape)}")
    return x


def _matrices(x: torch.Tensor, name: str, batch: int | None = None) -> torch.Tensor:
    if x.ndim != 3 or x.shape[1:] != (3, 3) or (batch is not None and x.shape[0] != batch):
        want = f"({batch}, 3, 3)" if batch is not None else "(B, 3, 3)"
        raise ShapeError(f"{name} must be {want}, got {tuple(x.shape)}")
    return x


def head_rotation_from_rotvec(rotvec: torch.Tensor) -> torch.Tensor:
    """Head rotation vectors ``(B, 3)`` (axis-angle, radians) -> matrices ``(B, 3, 3)``.

    The matrix maps face-model coordinates to camera coordinates (OpenCV ``solvePnP``
    convention, as in MPIIFaceGaze's annotation). Computed by kornia.
    """
    return axis_angle_to_rotation_matrix(_vectors(rotvec, "head rotation vector"))


def normalising_rotation(face_centre: torch.Tensor, head_rotation: torch.Tensor) -> torch.Tensor:
    """The rotation ``R`` (B, 3, 3) from the real camera to the normalised camera.

    Args:
        face_centre: ``(B, 3)`` face centre ``fc`` in the real camera frame (x right, y down,
            z forward), millimetres; must not be zero.
        head_rotation: ``(B, 3, 3)`` head rotation (face model -> camera); only its first
            column (the head's x axis, along the eye line) is used.

    Returns:
        ``R`` whose rows are the normalised camera's axes in real-camera coordinates:
        ``z = fc / |fc|``, ``x = normalise(h_x - (h_x . z) z)``, ``y = z x x``
        (right-handed, ``det R = +1``). ``R @ fc = (0, 0, |fc|)``.

    Raises:
        ParameterError: a face centre of zero length, or a head x axis parallel to ``fc``.
    """
    fc = _vectors(face_centre, "face_centre")
    hrot = _matrices(head_rotation, "head_rotation", fc.shape[0])
    dist = torch.linalg.vector_norm(fc, dim=1, keepdim=True)
    if bool((dist <= _DEGENERATE).any()):
        raise ParameterError("face_centre: a face centre is at the camera (length 0 mm)")
    z = fc / dist
    hx = hrot[:, :, 0]
    x = hx - (hx * z).sum(dim=1, keepdim=True) * z
    xn = torch.linalg.vector_norm(x, dim=1, keepdim=True)
    if bool((xn <= _DEGENERATE).any()):
        row = int(torch.argmin(xn.squeeze(1)))
        raise ParameterError(
            f"head_rotation: sample {row} has its x axis along the face-centre direction; "
            "the normalised camera's roll is undefined"
        )
    x = x / xn
    y = torch.linalg.cross(z, x, dim=1)
    return torch.stack([x, y, z], dim=1)


def scaling_matrix(face_centre: torch.Tensor, params: NormalisationParams) -> torch.Tensor:
    """``S = diag(1, 1, d_norm / |fc|)`` per sample, ``(B, 3, 3)``, dimensionless.

    Args:
        face_centre: ``(B, 3)`` face centres in the real camera frame, millimetres.
        params: ``params.distance_mm`` is ``d_norm`` (mm).
    """
    fc = _vectors(face_centre, "face_centre")
    dist = torch.linalg.vector_norm(fc, dim=1)
    s = torch.zeros(fc.shape[0], 3, 3, dtype=fc.dtype, device=fc.device)
    s[:, 0, 0] = 1.0
    s[:, 1, 1] = 1.0
    s[:, 2, 2] = params.distance_mm / dist
    return s


def virtual_camera_matrix(
    params: NormalisationParams,
    dtype: torch.dtype = torch.float64,
    device: torch.device | None = None,
) -> torch.Tensor:
    """The normalised camera's matrix ``(3, 3)`` in pixels.

    ``[[f, 0, w / 2], [0, f, h / 2], [0, 0, 1]]`` with ``f = params.focal_px`` and the image
    size ``w x h`` of ``params`` (GazeHub's principal point: half the size, not ``(w - 1) / 2``).
    """
    return torch.tensor(
        [
            [params.focal_px, 0.0, params.width_px / 2.0],
            [0.0, params.focal_px, params.height_px / 2.0],
            [0.0, 0.0, 1.0],
        ],
        dtype=dtype,
        device=device,
    )


def normalisation_transform(
    face_centre: torch.Tensor,
    head_rotation: torch.Tensor,
    camera_matrix: torch.Tensor,
    params: NormalisationParams | None = None,
) -> NormalisationTransform:
    """All matrices of the normalisation for a batch (computed in the inputs' dtype and device).

    Args:
        face_centre: ``(B, 3)`` face centre in the real camera frame (x right, y down,
            z forward), millimetres.
        head_rotation: ``(B, 3, 3)`` head rotation, face model -> camera
            (:func:`head_rotation_from_rotvec` for MPIIFaceGaze's rotation vectors).
        camera_matrix: ``(3, 3)`` or ``(B, 3, 3)`` intrinsic matrix of the real camera, pixels.
        params: the virtual camera; GazeHub's defaults when None.

    Returns:
        :class:`NormalisationTransform` with ``R``, ``S``, ``C_norm`` (broadcast to ``B``) and
        ``W = C_norm S R C_cam^-1``.
    """
    params = params or NormalisationParams()
    fc = _vectors(face_centre, "face_centre")
    n = fc.shape[0]
    cam = camera_matrix.to(dtype=fc.dtype, device=fc.device)
    if cam.ndim == 2:
        cam = cam.expand(n, 3, 3)
    cam = _matrices(cam, "camera_matrix", n)
    rmat = normalising_rotation(fc, head_rotation.to(dtype=fc.dtype, device=fc.device))
    smat = scaling_matrix(fc, params)
    cnorm = virtual_camera_matrix(params, fc.dtype, fc.device).expand(n, 3, 3)
    warp = cnorm @ smat @ rmat @ torch.linalg.inv(cam)
    return NormalisationTransform(rmat=rmat, smat=smat, camera_norm=cnorm, warp=warp)


def warp_images(
    images: torch.Tensor, warp: torch.Tensor, params: NormalisationParams | None = None
) -> torch.Tensor:
    """Warp original images into normalised face images with kornia, batched.

    Args:
        images: ``(B, C, H, W)`` float images (any value range) on the device to compute on.
        warp: ``(B, 3, 3)`` homographies original px -> normalised px (``W`` of
            :func:`normalisation_transform`); cast to float32 on the images' device.
        params: output size ``(height_px, width_px)``; GazeHub's defaults when None.

    Returns:
        ``(B, C, height_px, width_px)`` float32 images; pixels that map outside the original
        image are 0 (bilinear sampling, ``align_corners=True``: integer coordinates are pixel
        centres, as in OpenCV).
    """
    params = params or NormalisationParams()
    if images.ndim != 4:
        raise ShapeError(f"images must be (B, C, H, W), got {tuple(images.shape)}")
    w = _matrices(warp, "warp", images.shape[0]).to(device=images.device, dtype=torch.float32)
    return warp_perspective(
        images.to(torch.float32),
        w,
        dsize=(params.height_px, params.width_px),
        mode="bilinear",
        padding_mode="zeros",
        align_corners=True,
    )


def _source_boxes(
    warp: torch.Tensor, params: NormalisationParams, height: int, width: int, margin: int = 2
) -> torch.Tensor:
    """Integer boxes ``(B, 4)``: the part of each original image the warp samples.

    ``x0, y0, x1, y1`` (exclusive ends, px), clamped to the image, ``margin`` px around.

    The output rectangle's corners are mapped back through ``W^-1`` (the preimage of a
    rectangle under a homography without points at infinity is a quadrilateral, so its
    corners bound it).
    """
    w, h = params.width_px - 1.0, params.height_px - 1.0
    corners = torch.tensor(
        [[0.0, 0.0, 1.0], [w, 0.0, 1.0], [0.0, h, 1.0], [w, h, 1.0]], dtype=warp.dtype
    )
    src = torch.linalg.inv(warp.cpu()) @ corners.T  # (B, 3, 4)
    if bool((src[:, 2] <= 0).any()):  # a corner maps behind the camera: use the whole image
        full = torch.tensor([0, 0, width, height])
        return full.expand(warp.shape[0], 4).clone()
    xy = src[:, :2] / src[:, 2:]
    lo = torch.floor(xy.amin(dim=2)) - margin
    hi = torch.ceil(xy.amax(dim=2)) + margin + 1
    box = torch.cat([lo, hi], dim=1).nan_to_num(0.0)
    limit = torch.tensor([width, height, width, height], dtype=box.dtype)
    return torch.minimum(torch.clamp(box, min=0), limit).to(torch.int64)


def warp_uint8_hwc(
    images: torch.Tensor, warp: torch.Tensor, params: NormalisationParams | None = None
) -> torch.Tensor:
    """:func:`warp_images` for ``uint8 (B, H, W, C)`` images; returns ``uint8 (B, h, w, C)``.

    Only the part of each image the face crop samples (its box, :func:`_source_boxes`) is
    converted to float and warped - a 224x224 face from a 1280x720 frame touches ~6 % of it -
    with ``W`` shifted to the box's origin; the result equals warping the whole image. Values
    are rounded to the nearest integer and clamped to ``[0, 255]``; the warp runs on the
    images' device.
    """
    params = params or NormalisationParams()
    if images.ndim != 4 or images.dtype != torch.uint8:
        raise ShapeError(
            f"images must be uint8 (B, H, W, C), got {images.dtype} {tuple(images.shape)}"
        )
    n, height, width, chans = images.shape
    w64 = _matrices(warp, "warp", n).to(torch.float64)
    boxes = _source_boxes(w64, params, height, width)
    bh = max(int((boxes[:, 3] - boxes[:, 1]).max()), 1)
    bw = max(int((boxes[:, 2] - boxes[:, 0]).max()), 1)
    crops8 = torch.zeros(n, bh, bw, chans, dtype=torch.uint8, device=images.device)
    for i, (x0, y0, x1, y1) in enumerate(boxes.tolist()):
        crops8[i, : y1 - y0, : x1 - x0] = images[i, y0:y1, x0:x1]
    crops = crops8.permute(0, 3, 1, 2).to(torch.float32)
    shift = torch.eye(3, dtype=torch.float64).repeat(n, 1, 1)
    shift[:, 0, 2] = boxes[:, 0].to(torch.float64)
    shift[:, 1, 2] = boxes[:, 1].to(torch.float64)
    out = warp_images(crops, w64.cpu() @ shift, params)
    return out.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()


def normalise_gaze(gaze: torch.Tensor, rmat: torch.Tensor) -> torch.Tensor:
    """Gaze directions ``(B, 3)`` of the real camera -> unit vectors of the normalised camera.

    The direction is rotated by ``R`` only (not scaled by ``S``; ETRA 2018), then normalised.
    Both frames have x right, y down, z forward; ``(0, 0, -1)`` looks into the camera.
    Any vector length is accepted (e.g. ``gt - fc`` in mm); zero length is an error.
    """
    g = _vectors(gaze, "gaze")
    r = _matrices(rmat, "rmat", g.shape[0]).to(dtype=g.dtype, device=g.device)
    out = (r @ g.unsqueeze(-1)).squeeze(-1)
    n = torch.linalg.vector_norm(out, dim=1, keepdim=True)
    if bool((n <= _DEGENERATE).any()):
        raise ParameterError("gaze: a gaze vector has zero length (gaze target at the face centre)")
    return out / n


def normalise_head(head_rotation: torch.Tensor, rmat: torch.Tensor) -> torch.Tensor:
    """Head rotation in the normalised camera: ``R @ R_head``, ``(B, 3, 3)``.

    ``R_head`` maps face-model coordinates to the real camera; the result maps them to the
    normalised camera (S is not applied: it is not a rotation).
    """
    h = _matrices(head_rotation, "head_rotation")
    return _matrices(rmat, "rmat", h.shape[0]).to(dtype=h.dtype, device=h.device) @ h


def head_direction(head_rotation: torch.Tensor) -> torch.Tensor:
    """The direction a face points to, ``-R_head[:, :, 2]``, unit ``(B, 3)``.

    With MPIIFaceGaze's face model the model's z axis points into the face, so a frontal face
    (``R_head = I``) gives ``(0, 0, -1)``: into the camera, like a gaze at the camera.
    """
    return -_matrices(head_rotation, "head_rotation")[:, :, 2]
