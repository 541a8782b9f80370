"""Agreement of engage's tone features with openSMILE eGeMAPSv02 on real speech.

Needs the optional ``eval`` extra (``pip install -e .[eval]``: opensmile) and ../shared/data.
Prints Pearson r per matching feature pair over speechocean762 and EmoDB clips; last line
``key=value`` pairs.

    python benchmarks/opensmile_agreement.py [--clips 300]
"""

from __future__ import annotations

import argparse
import glob
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"

# engage feature -> eGeMAPSv02 functional (same or closest definition).
PAIRS = {
    "f0_mean_st": "F0semitoneFrom27.5Hz_sma3nz_amean",
    "f0_range_st": "F0semitoneFrom27.5Hz_sma3nz_pctlrange0-2",
    "loudness_mean_db": "loudness_sma3_amean",
    "hnr_db": "HNRdBACF_sma3nz_amean",
    "jitter_local": "jitterLocal_sma3nz_amean",
    "shimmer_local": "shimmerLocaldB_sma3nz_amean",
    "mfcc1_mean": "mfcc1_sma3_amean",
    "mfcc2_mean": "mfcc2_sma3_amean",
    "speaking_rate_syl_per_s": "VoicedSegmentsPerSec",
    "pause_mean_s": "MeanUnvoicedSegmentLength",
    "spectral_slope_db_per_khz": "slopeV500-1500_sma3nz_amean",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=300)
    args = parser.parse_args()
    try:
        import opensmile
    except ImportError:
        sys.exit("opensmile is not installed: pip install -e '.[eval]'")
    paths = sorted(glob.glob(str(SHARED / "speechocean762" / "WAVE" / "*" / "*.WAV")))
    paths += sorted(glob.glob(str(SHARED / "emodb" / "wav" / "*.wav")))
    if not paths:
        sys.exit(f"no clips under {SHARED}: the shared data folder is absent")
    paths = paths[:: max(1, len(paths) // args.clips)][: args.clips]
    from audio.decode import decode_audio
    from audio.tone import extract_tone

    smile = opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02,
                            feature_level=opensmile.FeatureLevel.Functionals)
    ours, theirs = [], []
    for path in paths:
        signal, _ = decode_audio(path)
        ours.append(extract_tone(signal))
        theirs.append(smile.process_signal(signal, 16000).iloc[0])
    result = {"clips": len(paths)}
    for mine, other in PAIRS.items():
        a = np.array([o[mine] for o in ours], dtype=float)
        b = np.array([t[other] for t in theirs], dtype=float)
        ok = np.isfinite(a) & np.isfinite(b)
        result[f"r_{mine}"] = round(float(np.corrcoef(a[ok], b[ok])[0, 1]), 3)
        print(f"{mine:28s} vs {other:42s} r = {result[f'r_{mine}']:.3f} (n={ok.sum()})")
    print(" ".join(f"{k}={v}" for k, v in result.items()))


if __name__ == "__main__":
    main()
