"""``imgexp-predict``: a trained model on new image files.

>>> from imgexp.predict import source, predictor, images
>>> loaded = source.load("runs:/<id>/model", tracking_uri)
>>> files, problems = images.find_images(["photos/"])
>>> predictions, skipped = predictor.predict_files(loaded, files)
"""
