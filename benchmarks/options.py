"""Every optional mechanism of the model switched on, for timing (``--all-options``)."""

from __future__ import annotations


def all_options(data: dict) -> dict:
    """Turn on every optional mechanism of the model in a scenario's data (for timing).

    A Double-11-sized peak day and a weekly pattern; outbound parcels with a perishable
    specialty in season; lockers, partner outlets and door delivery in turn across villages;
    cold-chain, EV range, CO2 and fixed daily costs on the village vehicles.
    """
    data = {**data, "demand": {**data["demand"]}, "fleet": {**data["fleet"]}}
    data["demand"]["calendar"] = {
        "weekday_factors": [1, 1, 1, 1, 1, 0.9, 0.8],
        "events": [{"name": "double11", "start": "11-11", "end": "11-11", "factor": 1.87}],
    }
    data["demand"]["outbound"] = {
        "parcels_per_village_per_day": 3,
        "specialties": [
            {
                "name": "fruit",
                "start": "01-01",
                "end": "12-31",
                "peak_parcels_per_village_per_day": 10,
                "shelf_life_h": 48,
            }
        ],
    }
    data["facilities"] = {
        **data["facilities"],
        "village_points": {
            **data["facilities"].get("village_points", {}),
            "kind": "locker",
            "locker_capacity_parcels": 150,
        },
    }
    types = {}
    for name, vt in data["fleet"]["vehicle_types"].items():
        types[name] = {
            **vt,
            "cold_chain": True,
            "co2_kg_per_km": 0.2,
            "cost_per_day_yuan": 20,
            "range_km": 5000,
        }
    data["fleet"]["vehicle_types"] = types
    return data
