"""Feedback accounting (infra/serving/feedback.py)."""
import pytest

from tfxkit.infra.serving.feedback import FeedbackBook


def test_feedback_book():
    book = FeedbackBook(capacity=3)
    book.remember("r1", "1", [("A", 0)], ["k1"])
    book.remember("r2", "2", [("A", 0), ("B", 1)], None)
    assert book.take({"request_id": "r1", "label": "A"}) == [("1", ("A", 0), "A")]
    with pytest.raises(LookupError):
        book.take({"request_id": "r1", "label": "A"})  # counted once
    with pytest.raises(LookupError):
        book.take({"key": "k1", "label": "B"})  # the same instance by key
    with pytest.raises(ValueError, match="labels"):
        book.take({"request_id": "r2", "label": "A"})
    assert book.take({"request_id": "r2", "index": 1, "label": "B"}) == [("2", ("B", 1), "B")]
    with pytest.raises(ValueError, match="as many"):
        book.take({"request_id": "r2", "labels": ["A"]})
    assert book.take({"request_id": "r2", "labels": ["A", None]}) == [("2", ("A", 0), "A")]
    with pytest.raises(KeyError):
        book.take({"request_id": "nope", "label": "A"})
    with pytest.raises(ValueError):
        book.take({"label": "A"})
    for i in range(5):  # the oldest requests are forgotten
        book.remember(f"x{i}", "1", [1.0], None)
    assert len(book) == 3
    with pytest.raises(KeyError):
        book.take({"request_id": "r1", "label": "A"})


def test_feedback_book_is_capped_by_instances_and_checks_ids():
    """Issue 13, faults 5 and 10: a book of requests of 10k instances is capped by
    instances, not requests; a list or dict id is a ValueError (400), not a TypeError."""
    book = FeedbackBook(capacity=1000, max_instances=25)
    for i in range(4):
        assert book.remember(f"r{i}", "1", [("A", 0)] * 10, [f"k{i}-{j}" for j in range(10)])
    assert book.stats()["instances"] == 20 and len(book) == 2  # r2, r3
    with pytest.raises(KeyError):
        book.take({"request_id": "r1", "labels": ["A"] * 10})
    assert not book.remember("huge", "1", [("A", 0)] * 26, None)  # alone over the cap
    assert len(book) == 2
    for bad in ({"request_id": ["r3"], "label": "A"}, {"request_id": {"a": 1}, "label": "A"},
                {"key": ["k3-1"], "label": "A"}, {"request_id": "r3", "index": "0"},
                {"request_id": "r3", "index": True}, {"request_id": 1.5, "label": "A"}):
        with pytest.raises(ValueError):
            book.take(bad)
    assert book.take({"key": "k3-1", "label": "A"}) == [("1", ("A", 0), "A")]


def test_labels_taken_with_their_request_and_index_for_the_choice_log():
    from tfxkit.infra.serving.feedback import score_feedback

    book = FeedbackBook()
    book.remember("r1", "1", [("deals", 0.8), ("trending", 0.1)], ["u1", "u2"])
    assert book.take_refs({"key": "u2", "label": 1}) == [("1", ("trending", 0.1), 1, "r1", 1)]
    seen = []
    out = score_feedback(book, [], [{"request_id": "r1", "index": 0, "label": True},
                                    {"key": "u2", "label": 0}], seen.extend)
    # a bool is no reward; the version is not loaded (not counted) but the reward is logged
    assert seen == [] and out["duplicates"] == 1 and out["not_counted"] == 1
    book.remember("r2", "1", [("deals", 0.8)], None)
    score_feedback(book, [], {"request_id": "r2", "label": -1.0}, seen.extend)
    assert seen == [("r2", 0, -1.0)]
