"""Facts about the PVS-HM data set and DHP's protocol that several layers need.

PVS-HM (Xu et al., "Predicting Head Movement in Panoramic Video: A Deep Reinforcement
Learning Approach", TPAMI 2018) has 76 equirectangular videos; its head-movement file
``FULLdata_per_video_frame.mat`` holds one variable per video, named after the video.
The mp4 files are named after the videos too, with one exception: the video
``NotBeAloneTonight`` is stored as ``Let'sNotBeAloneTonight.mp4`` (an apostrophe in a
file name). DHP evaluates on a fixed 15-video test split and trains on the rest.

Only plain data lives here (no I/O), so every layer can import it cheaply.
"""

from __future__ import annotations

from typing import Literal

#: The 76 PVS-HM video names (= the ``.mat`` variable names), in the reference order.
PVS_HM_VIDEOS: tuple[str, ...] = (
    "A380", "AcerEngine", "AcerPredator", "AirShow", "BFG", "Bicycle", "BlueWorld", "BTSRun",
    "Camping", "CandyCarnival", "Castle", "Catwalks", "CMLauncher", "CMLauncher2", "CS",
    "DanceInTurn", "Dancing", "DrivingInAlps", "Egypt", "F5Fighter", "Flight", "GalaxyOnFire",
    "Graffiti", "GTA", "Guitar", "HondaF1", "InsideCar", "IRobot", "KasabianLive", "KingKong",
    "Lion", "LoopUniverse", "Manhattan", "MC", "MercedesBenz", "Motorbike", "Murder",
    "NotBeAloneTonight", "Orion", "Parachuting", "Parasailing", "Pearl", "Predator",
    "ProjectSoul", "Rally", "RingMan", "RioOlympics", "Roma", "Shark", "Skiing", "Snowfield",
    "SnowRopeway", "SpaceWar", "SpaceWar2", "Square", "StarryPolar", "StarWars", "StarWars2",
    "Stratosphere", "StreetFighter", "Sunset", "Supercar", "SuperMario64", "Surfing",
    "SurfingArctic", "Symphony", "TalkingInCar", "Terminator", "TheInvisible", "Village",
    "VRBasketball", "WaitingForLove", "Waterfall", "Waterskiing", "WesternSichuan", "Yacht",
)  # fmt: skip

#: DHP's test split (15 videos); every other PVS-HM video is a training video.
DHP_TEST_VIDEOS: frozenset[str] = frozenset(
    {
        "WaitingForLove", "SpaceWar", "KingKong", "SpaceWar2", "Guitar", "BTSRun",
        "CMLauncher2", "Symphony", "RioOlympics", "Dancing", "StarryPolar", "InsideCar",
        "Sunset", "Waterfall", "BlueWorld",
    }
)  # fmt: skip

#: Video names whose mp4 file stem differs from the name.
VIDEO_FILE_STEMS: dict[str, str] = {"NotBeAloneTonight": "Let'sNotBeAloneTonight"}

_NAME_OF_STEM = {stem: name for name, stem in VIDEO_FILE_STEMS.items()}

Split = Literal["train", "test"]


def video_file_stem(name: str) -> str:
    """The mp4 file stem of a PVS-HM video: ``NotBeAloneTonight`` -> ``Let'sNotBeAloneTonight``.

    Names without a special case (and names unknown to PVS-HM) map to themselves.
    """
    return VIDEO_FILE_STEMS.get(name, name)


def video_name_from_stem(stem: str) -> str:
    """Inverse of :func:`video_file_stem`: the ``.mat`` variable name of an mp4 file stem."""
    return _NAME_OF_STEM.get(stem, stem)


def dhp_split(name: str) -> Split:
    """``"test"`` for DHP's 15 test videos, ``"train"`` for every other video."""
    return "test" if name in DHP_TEST_VIDEOS else "train"
