"""scikit-learn: skops artifacts, each estimator method an output, a numpy evaluator for trees."""
