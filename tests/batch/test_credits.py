"""A batch's credit cap and balance check, against the simulator."""

from __future__ import annotations

import pytest

from imaginepro_async import CreditLimitError, InvalidInputError
from imaginepro_async._batch.batch import Batch
from imaginepro_async._batch.journal import RequestState

from .conftest import World, client_for

pytestmark = pytest.mark.anyio


async def test_a_batch_over_max_credits_does_not_start(world: World) -> None:
    """4 inpaints need about 20 credits: max_credits=15 refuses before anything is sent."""
    async with client_for(world.sim) as client:
        with pytest.raises(CreditLimitError, match=r"needs about 20 credits.*max_credits=15"):
            async with Batch(client, world.requests(4), journal=world.tmp / "a.db", max_credits=15):
                pass
    assert world.sim.requests() == []


async def test_a_batch_the_account_cannot_pay_for_does_not_start(world: World) -> None:
    """The balance is checked first: 'needs about 20 credits; the account has 12'."""
    world.sim.set_credits(None, 12)
    async with client_for(world.sim) as client:
        with pytest.raises(CreditLimitError, match=r"needs about 20 credits.*account has 12") as e:
            async with Batch(client, world.requests(4), journal=world.tmp / "b.db", max_credits=99):
                pass
    assert (e.value.needed, e.value.available) == (20, 12)
    assert world.sim.stats().by_endpoint == {"account_info": 1}


async def test_within_the_cap_the_batch_runs_and_its_cost_is_counted(world: World) -> None:
    """A batch within its cap runs; the client's running total is 5 credits per inpaint."""
    journal = world.tmp / "c.db"
    async with client_for(world.sim) as client:
        async with Batch(client, world.requests(3), journal=journal, max_credits=15) as batch:
            results = [result async for result in batch]
        assert {r.state for r in results} == {RequestState.DONE}
        assert client.credits_spent == 15 == world.sim.credits_spent()[world.sim.api_key]
    # Resumed: nothing is left to submit, so a cap of 0 is enough.
    async with (
        client_for(world.sim) as client,
        Batch(client, world.requests(3), journal=journal, max_credits=0) as batch,
    ):
        assert all([r.resumed async for r in batch])


@pytest.mark.parametrize("cap", [-1, 2.5, True])
async def test_max_credits_must_be_a_whole_number(world: World, cap: object) -> None:
    """A negative, fractional or boolean cap is refused at once."""
    async with client_for(world.sim) as client:
        with pytest.raises(InvalidInputError, match="max_credits"):
            Batch(client, [], journal=world.tmp / "d.db", max_credits=cap)  # type: ignore[arg-type]
