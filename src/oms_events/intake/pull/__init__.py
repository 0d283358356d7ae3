"""Pulling orders from the marketplaces' order APIs by modified-time window.

``signing`` signs requests as each platform does, ``platforms`` knows each platform's
order-list API (parameters, answers, errors), ``puller`` walks the windows and
publishes what it reads on ``oms.intake.<channel>`` with its high-water mark in one
Kafka transaction, ``sandbox`` is a local stand-in for the four platforms.
"""
