"""What a new user of the `fer` package runs on a photo or a video file: the whole process, timed from outside
by compare_fer.py (runs in benchmarks/.fer-venv).

    python benchmarks/fer_cli.py PATH

The package's entry point, `FER()` (its default: the Haar cascade, not MTCNN), and
`detect_emotions` on the photo, or on every frame read with cv2.VideoCapture (fer's own `Video` class needs
moviepy and the GUI build of OpenCV, which its benchmark environment does not have). Prints the top emotion
per face, one line per frame for a video, like the project's command line prints its results.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import cv2  # noqa: E402
from fer.fer import FER  # noqa: E402  (25.10.3 no longer exports it from the top level)


def main() -> None:
    path = sys.argv[1]
    detector = FER()
    if path.lower().endswith((".jpg", ".jpeg", ".png")):
        for face in detector.detect_emotions(cv2.imread(path)):
            print("Detected Emotion:", max(face["emotions"], key=face["emotions"].get))
        return
    capture = cv2.VideoCapture(path)
    frames = 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        labels = [max(f["emotions"], key=f["emotions"].get) for f in detector.detect_emotions(frame)]
        print(frames, ",".join(labels))
        frames += 1
    capture.release()


if __name__ == "__main__":
    main()
