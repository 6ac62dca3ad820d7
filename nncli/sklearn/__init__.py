"""scikit-learn estimators over nncli's core: use nncli models in Pipelines, GridSearchCV and
cross_val_score, and move them to and from run directories.

    from nncli.sklearn import NNClassifier, NNRegressor
    clf = NNClassifier(hidden=[64], lr=1e-2, epochs=30).fit(X, y)
"""

from nncli.sklearn.estimators import NNClassifier, NNRegressor

__all__ = ["NNClassifier", "NNRegressor"]
