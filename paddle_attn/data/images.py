"""Image files: which names count as images, finding them under folders, reading one as RGB."""

import os

from PIL import Image, UnidentifiedImageError

from paddle_attn.errors import DataError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")


def load_image(path):
    """An RGB PIL image, or a DataError naming the file: missing, not an image, truncated, or a header claiming
    more pixels than PIL's decompression-bomb limit (`PIL.Image.MAX_IMAGE_PIXELS`, twice that is refused)."""
    try:
        with Image.open(path) as img:
            return img.convert("RGB")
    except FileNotFoundError as err:
        raise DataError(f"image file {path!r} does not exist") from err
    except (UnidentifiedImageError, OSError, ValueError) as err:
        raise DataError(f"{path!r} is not a readable image ({err})") from err
    except Image.DecompressionBombError as err:  # not an OSError: PIL raises it from the header alone
        raise DataError(f"{path!r} is not a readable image: {err}") from err


def read_through(transform, path):
    """`transform(load_image(path))` as float32; whatever either raises, a DataError naming the file and the
    exception's own message (a transform that fails on one image ends its line, not the whole run)."""
    image = load_image(path)
    try:
        return transform(image).astype("float32")
    except Exception as err:  # any failure on a user's image is reported with its file, not as a traceback
        raise DataError(f"{path!r} could not be preprocessed: {type(err).__name__}: {err}") from err


def find_images(paths):
    """Image files named by `paths`: files as given, folders searched recursively for image extensions."""
    found = []
    for path in paths:
        if os.path.isfile(path):
            found.append(path)
        elif os.path.isdir(path):
            inside = sorted(
                os.path.join(root, name)
                for root, _, names in os.walk(path)
                for name in names
                if name.lower().endswith(IMAGE_EXTENSIONS)
            )
            if not inside:
                raise DataError(f"folder {path!r} holds no images ({', '.join(IMAGE_EXTENSIONS)})")
            found += inside
        else:
            raise DataError(f"image path {path!r} does not exist")
    return found
