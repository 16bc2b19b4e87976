"""ILSVRC classification winners, 2010-2015, and the human estimate: the lecture's history.

Top-5 error (%) on the ILSVRC test set as the challenge published it (Russakovsky et al.,
"ImageNet Large Scale Visual Recognition Challenge", IJCV 2015, for 2010-2014).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class IlsvrcResult:
    """One year's winning entry (``year`` None for the human estimate)."""

    year: int | None
    top5: float  #: top-5 error (%) of the winning entry trained on the challenge's data only
    winner: str
    method: str
    #: error of the same team's entry that also used outside training data, if lower
    top5_outside_data: float | None = None
    #: the moderncnn network of that year's winning family, if any
    model: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


ILSVRC_TOP5: tuple[IlsvrcResult, ...] = (
    IlsvrcResult(2010, 28.2, "NEC-UIUC", "SIFT and LBP features, coding, linear SVMs"),
    IlsvrcResult(2011, 25.8, "XRCE", "Fisher vectors, linear SVMs"),
    IlsvrcResult(2012, 16.4, "SuperVision", "AlexNet: 5 CNNs", 15.3, model="alexnet_paper"),
    IlsvrcResult(2013, 11.7, "Clarifai", "ZFNet (Zeiler & Fergus): CNN ensemble", 11.2),
    IlsvrcResult(2014, 6.67, "GoogLeNet", "7 GoogLeNets, 144 crops", model="googlenet_paper"),
    IlsvrcResult(2015, 3.57, "MSRA", "ResNet: ensemble of 6 ResNets", model="resnet152"),
    IlsvrcResult(None, 5.1, "human", "one trained annotator (Karpathy), Russakovsky et al. 2015"),
)
